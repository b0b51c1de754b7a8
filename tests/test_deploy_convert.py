"""Serving model, SavedModel signature and TFLite flatbuffers agree with Keras."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerances import assert_same_network_outputs

from deploy.convert import export_saved_model, run_tflite, serving_model, to_tflite
from tfnas.datasets import demo
from tfnas.datasets.pipeline import normalize
from tfnas.nets.builder import build_net
from tfnas.nets.spaces import demo as demo_space
from tfnas.search.supernet import derive_choices


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = build_net(derive_choices(demo_space(), [2, 0, 2, 0, 0, 0]))
    images, labels = demo.generate(1500, seed=11)
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # 4 epochs, not 2: after 2 the model got half the held-out images right, its top
    # two logits often within 1% of their range of each other, and int8's rounding
    # flipped 6.5% of those near-ties under one CPU's float kernels (oneDNN off on an
    # AMD EPYC), 4% under the other's. After 4, 1 of 200 flipped under both.
    model.fit(normalize(images), labels, batch_size=50, epochs=4, verbose=0)
    held_out, held_labels = demo.generate(200, seed=12)
    return model, held_out.astype(np.float32), held_labels


def test_serving_model_normalizes_as_training_did(trained):
    model, images, _ = trained
    serving = serving_model(model)
    out = serving(images, training=False)
    assert_same_network_outputs(
        out["logits"].numpy(), model(normalize(images), training=False).numpy()
    )
    # Softmax sums to 1 up to float32 rounding of 10 terms (each within 6e-8 of 1).
    np.testing.assert_allclose(out["probabilities"].numpy().sum(1), 1.0, atol=1e-5)


def test_a_grayscale_network_serves_and_converts_with_one_input_channel():
    """Fashion-MNIST-style: one channel end to end, normalized by the gray statistics."""
    keras.utils.set_random_seed(0)
    spec = dataclasses.replace(derive_choices(demo_space(), [0] * 6), in_channels=1, resolution=28)
    model = build_net(spec)
    images = np.random.default_rng(0).uniform(0, 255, (4, 28, 28, 1)).astype(np.float32)
    serving = serving_model(model)
    assert serving.input_shape == (None, 28, 28, 1)
    want = model(normalize(images), training=False).numpy()
    assert_same_network_outputs(serving(images, training=False)["logits"].numpy(), want)
    flatbuffer = to_tflite(serving, "float32")
    got = run_tflite(flatbuffer, images)
    assert_same_network_outputs(got["logits"], want)


@pytest.mark.parametrize("minimalistic", [False, True])
def test_mobilenet_v3_converts_with_its_h_swish_and_squeeze_excite(minimalistic):
    """The baseline a user would deploy instead: one gray channel at 28 px, as Fashion-MNIST."""
    from tfnas.nets.registry import NETS

    keras.utils.set_random_seed(0)
    spec = NETS.get("mobilenet_v3_small", minimalistic=minimalistic, resolution=28, num_classes=10)
    model = build_net(dataclasses.replace(spec, in_channels=1))
    images = np.random.default_rng(0).uniform(0, 255, (4, 28, 28, 1)).astype(np.float32)
    serving = serving_model(model)
    want = model(normalize(images), training=False).numpy()
    got = run_tflite(to_tflite(serving, "float32"), images)
    assert np.isfinite(got["logits"]).all()
    assert_same_network_outputs(got["logits"], want)


def test_saved_model_signature_matches_keras(trained, tmp_path):
    model, images, _ = trained
    serving = serving_model(model)
    export_saved_model(serving, tmp_path / "saved_model")
    signature = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    (spec,) = signature.structured_input_signature[1].values()
    assert spec.name == "images" and spec.dtype == tf.float32
    assert spec.shape.as_list() == [None, 32, 32, 3]
    got = signature(images=tf.constant(images))
    assert sorted(got) == ["logits", "probabilities"]
    want = serving(images, training=False)
    for name in ("logits", "probabilities"):
        assert_same_network_outputs(got[name].numpy(), want[name].numpy())


def test_float_tflite_keeps_the_weights_and_matches_keras(trained):
    model, images, _ = trained
    serving = serving_model(model)
    got = run_tflite(to_tflite(serving, "float32"), images[:32])
    want = serving(images[:32], training=False)["logits"].numpy()
    assert np.isfinite(got["logits"]).all()  # the weightless conversion outputs NaN
    assert_same_network_outputs(got["logits"], want)


def test_int8_top1_agrees_with_float_on_the_held_out_batch(trained):
    model, images, labels = trained
    serving = serving_model(model)
    calibration = demo.generate(200, seed=13)[0].astype(np.float32)
    flatbuffer = to_tflite(
        serving, "int8", lambda: (calibration[i : i + 20] for i in range(0, 200, 20))
    )
    got = run_tflite(flatbuffer, images)["logits"].argmax(1)
    want = serving(images, training=False)["logits"].numpy().argmax(1)
    assert (got == want).mean() >= 0.95
    assert (want == labels).mean() > 0.5  # a model that learned something, not a constant


def test_conversion_refuses_what_would_lose_weights_or_data_of_the_wrong_shape(trained):
    model, _, _ = trained
    serving = serving_model(model)
    with pytest.raises(TypeError, match="converts Keras models only"):
        to_tflite(tf.Module(), "float32")
    with pytest.raises(ValueError, match="representative data has shape \\(4, 16, 16, 3\\)"):
        to_tflite(serving, "int8", lambda: [np.zeros((4, 16, 16, 3), np.float32)])
    with pytest.raises(ValueError, match="needs representative data"):
        to_tflite(serving, "int8")
    with pytest.raises(ValueError, match="unknown TFLite kind 'int4'"):
        to_tflite(serving, "int4")
