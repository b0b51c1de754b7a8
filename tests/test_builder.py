import keras
import numpy as np
import pytest
from tolerances import assert_same_network_outputs

from tfnas.nets.builder import INPUT_NAME, build_net
from tfnas.nets.costs import net_cost
from tfnas.nets.registry import NETS, SPACES

STANDARD_LAYERS = {
    "InputLayer",
    "Conv2D",
    "DepthwiseConv2D",
    "BatchNormalization",
    "ReLU",
    "Add",
    "GlobalAveragePooling2D",
    "Dropout",
    "Dense",
}


def demo_net(dropout=0.0):
    space = SPACES.get("demo", dropout=dropout)
    # Every candidate appears: cycle through indices, Zero included.
    return space.select([i % len(b.candidates) for i, b in enumerate(space.choice_blocks, 3)])


def test_plain_functional_model_of_standard_layers():
    model = build_net(demo_net(dropout=0.2))
    assert isinstance(model, keras.Model)
    assert model.__class__.__name__ == "Functional"
    assert {type(layer).__name__ for layer in model.layers} <= STANDARD_LAYERS
    assert "Dropout" in {type(layer).__name__ for layer in model.layers}
    assert model.input.name == INPUT_NAME or model.layers[0].name == INPUT_NAME


def test_forward_shape_and_values():
    spec = demo_net()
    model = build_net(spec)
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    logits = model(images, training=False)
    assert logits.shape == (2, spec.classifier.num_classes)
    assert np.all(np.isfinite(logits))


def test_layer_names_are_stable_and_positional():
    spec = demo_net()
    names = [layer.name for layer in build_net(spec).layers]
    assert names == [layer.name for layer in build_net(spec).layers]
    assert len(set(names)) == len(names)
    for required in ("stem_conv", "block00_dw_conv", "block01_project_bn", "feature_mix_relu"):
        assert required in names
    assert "block00_expand_conv" not in names  # MBConv1 has no expand conv
    for index, block in enumerate(spec.blocks):
        prefix = f"block{index:02d}_"
        has_layers = any(name.startswith(prefix) for name in names)
        assert has_layers != block.is_identity  # Zero blocks build nothing
        assert (f"{prefix}add" in names) == (block.residual and not block.is_identity)


def test_feature_map_shapes_match_the_cost_counter():
    spec = NETS.get("proxyless_gpu", resolution=96)
    model = build_net(spec)
    for layer_cost in net_cost(spec).layers:
        if layer_cost.name.startswith("block") and layer_cost.description != "Zero":
            output = model.get_layer(f"{layer_cost.name}_project_bn").output
            assert tuple(output.shape[1:]) == layer_cost.output_shape


def test_zero_blocks_are_identities():
    # proxyless_gpu skips 8 blocks; its graph has one Add per non-skipped residual block.
    spec = NETS.get("proxyless_gpu", resolution=64)
    model = build_net(spec)
    adds = [layer for layer in model.layers if type(layer).__name__ == "Add"]
    assert len(adds) == sum(b.residual and not b.is_identity for b in spec.blocks) == 7


def test_search_space_is_rejected_with_advice():
    with pytest.raises(TypeError, match="select or derive one network first"):
        build_net(SPACES.get("demo"))


@pytest.mark.parametrize("keras_module", ["keras", "tf_keras"])
def test_he_fout_initialization_is_the_references(keras_module):
    """Convolutions N(0, 2/n) with n = k*k*out (depthwise too: k*k*channels, as the
    reference does not divide by the groups); the classifier U(+-1/sqrt(in))."""
    module = __import__(keras_module)
    module.utils.set_random_seed(0)
    model = build_net(NETS.get("mobilenet_v2"), keras_module=module)
    layers = {layer.name: layer for layer in model.layers}
    for name in ("block05_expand_conv", "block05_dw_conv", "block05_project_conv"):
        kernel = layers[name].get_weights()[0]
        k, _, channels_in, multiplier = kernel.shape
        out = channels_in if "dw" in name else multiplier
        # Sample std of thousands of draws: within 10% of sqrt(2/n) (its relative
        # spread is about 1/sqrt(2N), under 2% here).
        np.testing.assert_allclose(kernel.std(), np.sqrt(2.0 / (k * k * out)), rtol=0.1)
    kernel = layers["classifier"].get_weights()[0]
    limit = 1 / np.sqrt(kernel.shape[0])
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit
    glorot = build_net(NETS.get("mobilenet_v2"), keras_module=module, init="glorot")
    # A 1x1 projection 192 -> 32: Glorot's std sqrt(2/224), he_fout's sqrt(2/32).
    g = {layer.name: layer for layer in glorot.layers}["block05_project_conv"].get_weights()[0]
    np.testing.assert_allclose(g.std(), np.sqrt(2.0 / 224), rtol=0.1)


def assert_tf_keras_twin_agrees(spec, model3, seed):
    """The tf_keras build of `spec`: the same layer names, and with `model3`'s weights
    copied by name (what QAT does), the same logits. Returns it."""
    import tf_keras

    model2 = build_net(spec, keras_module=tf_keras)
    assert [layer.name for layer in model2.layers] == [layer.name for layer in model3.layers]
    for layer in model2.layers:
        layer.set_weights(model3.get_layer(layer.name).get_weights())
    images = np.random.default_rng(seed).normal(size=(3, 32, 32, 3)).astype("float32")
    assert_same_network_outputs(
        model2(images, training=False).numpy(),
        keras.ops.convert_to_numpy(model3(images, training=False)),
    )
    return model2


def test_tf_keras_builds_the_identical_model():
    tf_keras = pytest.importorskip("tf_keras")
    spec = demo_net(dropout=0.1)
    model2 = assert_tf_keras_twin_agrees(spec, build_net(spec), seed=1)
    assert isinstance(model2, tf_keras.Model)
    assert keras.__version__.startswith("3.")  # the main path still runs Keras 3


def small_v3(**options):
    """MobileNetV3-Small at 32 px, 10 classes (the smallest input keras.applications takes)."""
    return NETS.get("mobilenet_v3_small", resolution=32, num_classes=10, **options)


@pytest.mark.parametrize("size", ["small", "large"])
@pytest.mark.parametrize("alpha", [0.75, 1.0, 1.25])
@pytest.mark.parametrize("minimalistic", [False, True])
def test_mobilenet_v3_has_the_weights_of_keras_applications(size, alpha, minimalistic):
    # Random init, no download: keras.applications' own model of each variant.
    application = getattr(keras.applications, f"MobileNetV3{size.title()}")
    reference = application(
        input_shape=(32, 32, 3),
        alpha=alpha,
        minimalistic=minimalistic,
        weights=None,
        classes=10,
        include_preprocessing=False,
    )
    spec = NETS.get(
        f"mobilenet_v3_{size}",
        width_mult=alpha,
        minimalistic=minimalistic,
        resolution=32,
        num_classes=10,
    )
    model = build_net(spec)

    def shapes(weights):
        # keras.applications' head is 1x1 convolutions on the pooled map, ours Dense layers.
        return sorted(
            tuple(w.shape)[2:] if tuple(w.shape)[:2] == (1, 1) else tuple(w.shape) for w in weights
        )

    assert shapes(model.weights) == shapes(reference.weights)
    cost = net_cost(spec)
    assert (cost.params, cost.bn_stats) == (
        sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        sum(int(np.prod(w.shape)) for w in model.non_trainable_weights),
    )


def test_h_swish_and_the_squeeze_excite_gate_are_keras_3s():
    from tfnas.nets.builder import hard_sigmoid_layers, hard_swish

    x = np.linspace(-5, 5, 101, dtype="float32").reshape(1, 101)
    # Exact up to float32 rounding of x / 6 + 1/2 against (x + 3) / 6: a few ulps of 1.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(hard_swish(keras.layers, "h")(x)),
        keras.ops.convert_to_numpy(keras.activations.hard_swish(x)),
        rtol=0,
        atol=4e-7 * 5,
    )
    gate = keras.ops.convert_to_numpy(keras.Sequential(hard_sigmoid_layers(keras.layers, "g"))(x))
    np.testing.assert_allclose(
        gate, keras.ops.convert_to_numpy(keras.activations.hard_sigmoid(x)), rtol=0, atol=4e-7
    )


def test_mobilenet_v3_builds_from_standard_layers_and_its_tf_keras_twin_agrees():
    pytest.importorskip("tf_keras")
    spec = small_v3()
    model3 = build_net(spec)
    assert {type(layer).__name__ for layer in model3.layers} <= STANDARD_LAYERS | {
        "Rescaling",
        "Multiply",
    }
    names = {layer.name for layer in model3.layers}
    assert {"stem_hswish", "block00_se", "block03_expand_hswish", "last_point"} <= names
    assert "block00_expand_conv" not in names  # 16 middle channels for 16 inputs
    assert_tf_keras_twin_agrees(spec, model3, seed=2)
