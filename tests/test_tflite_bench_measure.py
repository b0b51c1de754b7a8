"""`python -m tflite_bench.measure MODEL.tflite` on the host."""

import json
from pathlib import Path

import pytest
from commands import run_module

from tflite_bench import key_models
from tflite_bench.measure import MeasureError, measure_file
from tflite_bench.runners import HostRunner
from tfnas.latency.keys import parse_key


def measure(*args: str):
    return run_module("tflite_bench.measure", *args)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    key = parse_key("Conv-input:16x16x3-output:8x8x8")
    path = tmp_path_factory.mktemp("model") / "stem.tflite"
    path.write_bytes(key_models.key_flatbuffer(key))
    return path


def test_json_output_has_the_figures(model):
    result = measure(str(model), "--num_runs=20", "--min_seconds=0", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert figures["count"] == 20
    assert figures["min_ms"] <= figures["median_ms"] <= figures["max_ms"]
    assert figures["std_ms"] >= 0 and figures["mean_ms"] > 0 and figures["device"]


def test_plain_output_is_one_line(model):
    result = measure(str(model), "--num_runs=5", "--min_seconds=0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ms, median" in result.stdout and "over 5 runs" in result.stdout


def test_files_that_are_not_models_are_refused(tmp_path):
    text = tmp_path / "notes.tflite"
    text.write_text("hello, this is not a flatbuffer")
    with pytest.raises(MeasureError, match="not a TFLite flatbuffer"):
        measure_file(HostRunner(), text)
    with pytest.raises(MeasureError, match="no such file"):
        measure_file(HostRunner(), tmp_path / "absent.tflite")
    result = measure()
    assert result.returncode == 2 and "give exactly one MODEL.tflite" in result.stderr
    result = measure(str(text))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: " in result.stderr and "not a TFLite flatbuffer" in result.stderr
