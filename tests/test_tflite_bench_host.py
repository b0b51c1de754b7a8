"""Host measurement: each key becomes a TFLite model of that layer alone, timed on one thread."""

import numpy as np
import pytest

from tflite_bench import host
from tfnas.latency.keys import parse_key
from tfnas.latency.table import LatencyTable, Measurement, TableMetadata
from tfnas.spaces import demo


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
    from ai_edge_litert.interpreter import Interpreter

    key = parse_key(text)
    model = host.key_model(key)
    assert tuple(model.output.shape[1:]) == key.output_shape
    flatbuffer = host.to_tflite(model)
    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    x = np.random.default_rng(0).standard_normal((1, *key.input_shape)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    tflite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(tflite, model(x).numpy(), atol=1e-4)  # weights survived
    timing = host.time_tflite(flatbuffer, runs=3, warmup=1)
    assert timing.mean > 0 and timing.count == 3


def test_once_for_all_keys_are_refused():
    key = parse_key(
        "expanded_conv-input:8x8x8-output:8x8x8-expand:24-kernel:3-stride:1-idskip:1-se:1-hs:1"
    )
    with pytest.raises(ValueError, match="Once-for-All"):
        host.key_model(key)


def test_space_keys_are_distinct_and_cover_every_candidate():
    keys = host.space_keys(demo())
    assert len(keys) == len(set(keys))
    assert {k.kind for k in keys} == {"Conv", "expanded_conv", "Conv_1", "Logits"}


def test_merging_refuses_another_device():
    key = parse_key("Conv-input:16x16x3-output:8x8x8")
    old = LatencyTable(TableMetadata(device="a"), {key: Measurement(1.0, 0.0, 1)})
    new = LatencyTable(TableMetadata(device="b"), {})
    with pytest.raises(ValueError, match="cannot merge measurements of 'b'"):
        host.merged_into(old, new)
    same = LatencyTable(TableMetadata(device="a"), {key: Measurement(2.0, 0.0, 1)})
    assert host.merged_into(old, same).get(key).mean == 2.0
