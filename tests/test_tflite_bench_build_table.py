"""Building tables: every key measured, progress saved and resumed, refreshes keep history."""

import json

import pytest
from commands import run_module

from tflite_bench.build_table import (
    PARTIAL_SUFFIX,
    TableBuildError,
    build_table,
    keys_of,
    load_space,
)
from tflite_bench.runners import Timing
from tfnas.latency.table import TableMetadata, load_table
from tfnas.nets.spaces import demo


class CountingRunner:
    """Times every key as 1 ms plus its position; remembers what it was asked, can fail."""

    def __init__(self, device="bench", fail_after=None, offset=1.0):
        self.device = device
        self.asked = []
        self.fail_after = fail_after
        self.offset = offset

    def time(self, flatbuffer, name):
        if self.fail_after is not None and len(self.asked) == self.fail_after:
            raise KeyboardInterrupt  # the user stops the run
        self.asked.append(name)
        value = self.offset + len(self.asked) / 100
        return Timing(value, value, 0.01, 10)

    def metadata(self, precision):
        return TableMetadata(
            device=self.device, threads=1, delegate="xnnpack", precision=precision, date="d1"
        )

    def close(self):
        pass


def no_model(key, precision):
    return b""


@pytest.fixture
def keys():
    return keys_of([demo()])[:6]


def test_every_key_is_measured_and_written(tmp_path, keys):
    out = tmp_path / "table.json"
    table = build_table(CountingRunner(), keys, out, log=lambda line: None, flatbuffer_of=no_model)
    assert list(table) == keys and len(load_table(out)) == 6
    assert load_table(out).metadata.precision == "float32"
    assert not (tmp_path / f"table.json{PARTIAL_SUFFIX}").exists()


def test_an_interrupted_build_resumes_where_it_stopped(tmp_path, keys):
    out = tmp_path / "table.json"
    with pytest.raises(KeyboardInterrupt):
        build_table(CountingRunner(fail_after=4), keys, out, log=print, flatbuffer_of=no_model)
    partial = tmp_path / f"table.json{PARTIAL_SUFFIX}"
    assert len(load_table(partial)) == 4 and not out.exists()
    lines = []
    second = CountingRunner()
    table = build_table(second, keys, out, log=lines.append, flatbuffer_of=no_model)
    assert second.asked == [str(k) for k in keys[4:]]  # only what was missing
    assert "4 of 6 keys measured" in lines[0]
    assert list(table) == keys and not partial.exists()


def test_a_partial_table_of_another_device_is_refused(tmp_path, keys):
    out = tmp_path / "table.json"
    with pytest.raises(KeyboardInterrupt):
        build_table(CountingRunner("a", 2), keys, out, log=print, flatbuffer_of=no_model)
    with pytest.raises(TableBuildError, match="device 'a', not 'b'; delete it to start over"):
        build_table(CountingRunner("b"), keys, out, log=print, flatbuffer_of=no_model)


def test_a_refresh_replaces_entries_keeps_others_and_records_history(tmp_path, keys):
    out = tmp_path / "table.json"
    build_table(CountingRunner(), keys, out, log=print, flatbuffer_of=no_model)
    old = load_table(out)
    refreshed = build_table(
        CountingRunner(offset=5.0), keys[:2], out, log=print, flatbuffer_of=no_model
    )
    assert len(refreshed) == 6
    assert refreshed.get(keys[0]).mean > 5 and refreshed.get(keys[5]) == old.get(keys[5])
    (round_,) = refreshed.metadata.history
    assert round_["entries"] == 6 and round_["replaced"] == 2 and round_["date"] == "d1"
    assert load_table(out).metadata.history == refreshed.metadata.history
    with pytest.raises(TableBuildError, match="measured with device 'bench'"):
        build_table(CountingRunner("other"), keys[:1], out, log=print, flatbuffer_of=no_model)


def test_spaces_load_at_a_width_and_resolution():
    space = load_space("demo", 48, width_mult=0.5)
    assert space.resolution == 48
    assert space.stem.out_channels < demo().stem.out_channels
    with pytest.raises(TableBuildError, match="--width_mult=0.0: expected a number > 0"):
        load_space("demo", None, 0.0)
    # Grayscale data: the networks keep one input channel, and so does the stem's key.
    gray = load_space("fashion_mnist", None, channels=1)
    assert gray.in_channels == 1 and load_space("fashion_mnist", None).in_channels == 3
    assert str(keys_of([gray])[0]) == "Conv-input:28x28x1-output:14x14x8"
    with pytest.raises(TableBuildError, match="--channels=0: expected an integer >= 1"):
        load_space("demo", None, channels=0)
    with pytest.raises(TableBuildError, match="a network, not a search space"):
        load_space("mobilenet_v2", None)


def test_the_command_measures_a_space_on_the_host(tmp_path):
    out = tmp_path / "cpu.json"
    result = run_module(
        "tflite_bench.build_table",
        "--space=demo",
        "--resolution=16",
        "--width_mult=0.5",
        "--num_runs=3",
        "--warmup_runs=1",
        "--min_seconds=0",
        f"--out={out}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = load_table(out)
    expected = keys_of([load_space("demo", 16, 0.5)])
    assert set(table) == set(expected)
    assert f"[{len(expected)}/{len(expected)}]" in result.stderr  # progress, one line per key
    assert all(entry.median is not None and entry.count >= 3 for entry in table.entries.values())
    data = json.loads(out.read_text())
    assert data["metadata"]["tool"] == "tflite_bench (host)"
    assert data["metadata"]["device_info"]["cpu"]
