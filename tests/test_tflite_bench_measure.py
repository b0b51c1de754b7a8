"""`python -m tflite_bench.measure MODEL.tflite ...` on the host, and combining passes."""

import json
from pathlib import Path

import pytest
from commands import run_module

from tflite_bench import key_models
from tflite_bench.measure import MeasureError, combine_passes, measure_file, measure_files
from tflite_bench.runners import HostRunner, Timing
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
    assert result.returncode == 2 and "give at least one MODEL.tflite" in result.stderr
    result = measure(str(text))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: " in result.stderr and "not a TFLite flatbuffer" in result.stderr


def test_several_models_and_passes_give_one_line_each(model, tmp_path):
    other = tmp_path / "copy.tflite"
    other.write_bytes(model.read_bytes())
    args = (str(model), str(other), "--passes=2", "--num_runs=5", "--min_seconds=0", "--json")
    result = measure(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["model"] for line in lines] == [str(model), str(other)]
    assert all(line["count"] == 10 for line in lines)  # 5 runs in each of 2 passes


def test_passes_combine_by_the_median_so_one_slow_pass_does_not_count():
    passes = [Timing(1.0, 1.0, 0.1, 50, 0.9, 1.2), Timing(5.0, 5.0, 2.0, 50, 0.9, 9.0)]
    passes.append(Timing(1.2, 1.1, 0.2, 60, 1.0, 1.5))
    combined = combine_passes(passes)
    assert combined.median_ms == 1.1 and combined.count == 160
    assert combined.min_ms == 0.9 and combined.max_ms == 9.0 and combined.std_ms == 2.0
    assert combined.mean_ms == pytest.approx(7.2 / 3)
    with pytest.raises(MeasureError, match="--passes=0: expected an integer >= 1"):
        measure_files(HostRunner(), [], passes=0)
