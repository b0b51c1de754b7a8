"""Key models: each key becomes a TFLite model of that layer alone, converted with its weights."""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from tflite_bench import key_models
from tfnas.latency.keys import parse_key
from tfnas.nets.builder import build_net
from tfnas.nets.spaces import demo


def run(flatbuffer: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize(
    "text",
    [
        "Conv-input:16x16x3-output:8x8x8",
        "expanded_conv-input:8x8x8-output:8x8x8-expand:3-kernel:5-stride:1-idskip:1",
        "expanded_conv-input:8x8x8-output:4x4x16-expand:1-kernel:3-stride:2-idskip:0",
        "Conv_1-input:4x4x16-output:4x4x32",
        "Logits-input:4x4x32-output:10",
    ],
)
def test_key_models_have_the_keys_shapes_and_convert_with_their_weights(text):
    key = parse_key(text)
    model = key_models.key_model(key)
    assert tuple(model.output.shape[1:]) == key.output_shape
    x = np.random.default_rng(0).standard_normal((1, *key.input_shape)).astype(np.float32)
    got = run(key_models.flatbuffer_for_timing(model), x)
    np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)  # weights survived


def test_int8_key_models_run_integer_kernels():
    key = parse_key("expanded_conv-input:8x8x8-output:8x8x8-expand:3-kernel:3-stride:1-idskip:1")
    assert key_models.kernel_input_types(key_models.key_flatbuffer(key, "int8")) == {"int8"}
    assert key_models.kernel_input_types(key_models.key_flatbuffer(key)) == {"float32"}
    with pytest.raises(ValueError, match="unknown model kind 'int4'"):
        key_models.key_flatbuffer(key, "int4")


def test_the_whole_network_model_computes_what_the_builder_builds():
    spec = demo().select([0] * len(demo().choice_blocks))
    model = build_net(spec)
    x = np.random.default_rng(1).standard_normal((1, 32, 32, 3)).astype(np.float32)
    net = key_models.net_model(spec)
    net.set_weights(model.get_weights())
    got = run(key_models.flatbuffer_for_timing(net), x)
    np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4)


def test_once_for_all_keys_are_refused():
    key = parse_key(
        "expanded_conv-input:8x8x8-output:8x8x8-expand:24-kernel:3-stride:1-idskip:1-se:1-hs:1"
    )
    with pytest.raises(ValueError, match="Once-for-All"):
        key_models.key_model(key)


def test_space_keys_are_distinct_and_cover_every_candidate():
    keys = key_models.space_keys(demo())
    assert len(keys) == len(set(keys))
    assert {k.kind for k in keys} == {"Conv", "expanded_conv", "Conv_1", "Logits"}
