"""`tflite_bench.refresh`: a deployed network's parts and whole into its device's table."""

import json

import pytest
from commands import error_lines, run_module
from simulated_device import DEVICE, JitteryDevice, SimulatedDevice, network_flatbuffer

from tflite_bench.refresh import (
    DEFAULT_PASSES,
    RefreshError,
    measure_parts,
    network_keys,
    refresh,
)
from tflite_bench.runners import DeviceError
from tfnas.latency.model import net_latency
from tfnas.latency.table import load_table
from tfnas.latency.targets import load_target
from tfnas.nets.registry import SPACES

SPACE = SPACES.get("fashion_mnist")
# Every kernel size and both expand ratios, and a skipped block (the last, Zero).
FIRST = [0, 5, 2, 3, 4, 1, 0, 5, 6]
# Other blocks of the same kinds: keys of other shapes or positions.
SECOND = [5, 0, 3, 2, 1, 4, 5, 2, 0]


def _refresh(device, spec, path, name, **options):
    lines = []
    result = refresh(
        device,
        spec,
        path,
        name,
        log=lines.append,
        flatbuffer_of=lambda key, precision: b"",
        network_flatbuffer=network_flatbuffer,
        **options,
    )
    return result, lines


def test_a_new_device_table_learns_the_device_from_one_network(tmp_path):
    device = SimulatedDevice()  # 7x7 blocks 4.5x the cpu model, the rest 1.5x, 0.05 ms overhead
    path = tmp_path / "phone.json"
    first, second = SPACE.select(FIRST), SPACE.select(SECOND)
    keys = network_keys(first)

    result, lines = _refresh(device, first, path, "first")
    assert result.predicted_before == pytest.approx(net_latency(load_target("cpu"), first).total)
    assert result.measured == pytest.approx(device.network_ms(keys))
    # Every part measured, then the whole: the offset is exactly the overhead.
    assert set(result.measured_keys) == set(keys)
    assert result.predicted_after == pytest.approx(result.measured)
    assert len(lines) == len(set(keys)) + 1 and lines[-1].startswith("whole network first:")

    table = load_table(path)
    assert table.metadata.device == DEVICE and table.metadata.base_target == "cpu"
    (record,) = table.metadata.networks
    assert record["keys"] == [str(key) for key in keys]
    assert record["measured_ms"] == pytest.approx(result.measured)
    assert record["predicted_ms"] == pytest.approx(result.predicted_before)
    assert table.metadata.calibration["offset_ms"] == pytest.approx(device.overhead_ms)
    assert table.metadata.history[-1]["network"] == "first"

    # Another network of the space, before any of its own parts are measured: the
    # table predicts it within 2% where the cpu model is far off (not one factor).
    second_keys = network_keys(second)
    truth = device.network_ms(second_keys)
    foreign = net_latency(load_target("cpu"), second).total
    assert abs(foreign - truth) / truth > 0.4
    adapted = net_latency(load_target(str(path)), second).total
    assert adapted == pytest.approx(truth, rel=0.02)

    result, _ = _refresh(device, second, path, "second")
    # Only the parts the table lacked are measured.
    assert set(result.measured_keys) == set(second_keys) - set(keys)
    assert result.predicted_after == pytest.approx(result.measured)
    assert [n["name"] for n in load_table(path).metadata.networks] == ["first", "second"]


def test_parts_alone_go_into_the_table_and_leave_its_networks_and_calibration(tmp_path):
    device = SimulatedDevice()
    path = tmp_path / "phone.json"
    first, second = SPACE.select(FIRST), SPACE.select(SECOND)
    _refresh(device, first, path, "first")
    before = load_table(path)
    device.timed.clear()

    def parts(keys, **options):
        return measure_parts(
            device, keys, path, log=lambda line: None, flatbuffer_of=lambda k, p: b"", **options
        )

    keys = network_keys(second)
    new = [key for key in dict.fromkeys(keys) if key not in before]
    assert new and parts(keys) == tuple(new)  # only the parts the table lacks, once each
    assert device.timed == [str(key) for key in new]
    after = load_table(path)
    assert after.metadata.networks == before.metadata.networks
    assert after.metadata.calibration == before.metadata.calibration
    for key in new:
        assert after.get(key).typical == pytest.approx(device.true_ms(key))
    assert parts(keys) == ()  # nothing left to measure
    assert set(parts(keys[:2], remeasure=True)) == set(keys[:2])


def test_a_device_that_disconnects_leaves_what_it_measured_and_a_rerun_measures_the_rest(
    tmp_path,
):
    path = tmp_path / "phone.json"
    spec = SPACE.select(FIRST)
    with pytest.raises(DeviceError, match="disconnected"):
        _refresh(SimulatedDevice(fail_after=4), spec, path, "first")
    assert len(load_table(path)) == 4 and not load_table(path).metadata.networks
    device = SimulatedDevice()
    result, _ = _refresh(device, spec, path, "first")
    assert len(result.measured_keys) == len(set(network_keys(spec))) - 4
    assert len(device.timed) == len(result.measured_keys) + DEFAULT_PASSES
    assert result.predicted_after == pytest.approx(result.measured)


def test_a_table_of_another_device_is_not_written_into(tmp_path):
    path = tmp_path / "phone.json"
    _refresh(SimulatedDevice(), SPACE.select(FIRST), path, "first")
    other = SimulatedDevice(device="another phone")
    with pytest.raises(RefreshError, match=r"measured with device .*another phone.*--base="):
        _refresh(other, SPACE.select(FIRST), path, "first")
    with pytest.raises(RefreshError, match="--precision=fp16: expected one of float32, int8"):
        _refresh(SimulatedDevice(), SPACE.select(FIRST), tmp_path / "x.json", "a", precision="fp16")
    with pytest.raises(RefreshError, match="--passes=0: expected an integer >= 1"):
        _refresh(SimulatedDevice(), SPACE.select(FIRST), tmp_path / "x.json", "a", passes=0)


def test_the_whole_network_counts_with_the_median_of_its_timings(tmp_path):
    spec = SPACE.select(FIRST)
    device = JitteryDevice([1.2, 0.9, 1.0, 1.05, 0.7])
    result, lines = _refresh(device, spec, tmp_path / "phone.json", "net", passes=5)
    truth = device.network_ms(network_keys(spec))
    # One timing could have been anything from 0.7x to 1.2x; the median is the true one.
    assert result.measured == pytest.approx(truth)
    assert result.timings == pytest.approx([truth * f for f in (1.2, 0.9, 1.0, 1.05, 0.7)])
    assert result.spread == pytest.approx(0.25)
    (record,) = load_table(tmp_path / "phone.json").metadata.networks
    assert record["measured_ms"] == pytest.approx(truth)
    assert record["timings_ms"] == pytest.approx(list(result.timings))
    assert "(median of 5: " in lines[-1]


def test_the_command_refreshes_a_table_on_the_host(tmp_path):
    arch = tmp_path / "net.json"
    from tfnas.nets import spec_json

    spec_json.save_spec(SPACE.select(FIRST), arch)
    table = tmp_path / "host.json"
    quick = ["--num_runs=5", "--warmup_runs=1", "--min_seconds=0.01"]
    result = run_module(
        "tflite_bench.refresh", f"--table={table}", f"--arch={arch}", "--device=host", *quick
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "net on " in result.stdout and "measured" in result.stdout
    data = json.loads(table.read_text())
    assert data["metadata"]["base_target"] == "cpu"
    assert len(data["entries"]) == len(set(network_keys(SPACE.select(FIRST))))
    bad = run_module("tflite_bench.refresh", f"--table={table}", "--device=host")
    assert bad.returncode == 2 and error_lines(bad) == ["error: --arch is required"]


def test_a_target_of_another_device_gets_a_one_line_warning_naming_both(tmp_path):
    from tflite_bench.refresh import foreign_device_warning

    shipped = load_target("cpu").table.metadata.device
    assert foreign_device_warning("cpu", shipped) is None
    warning = foreign_device_warning("cpu", "Pixel 7 (Tensor G2)", "adb:ABC")
    assert warning == (
        f"warning: the latency target cpu was measured on {shipped}, not on this "
        "device (Pixel 7 (Tensor G2)); adapt it: python -m tflite_bench.refresh "
        "--table=DEVICE_TABLE.json --base=cpu --arch=ARCH.json --device=adb:ABC"
    )
    assert "\n" not in warning
    assert foreign_device_warning("flops", "anything") is None
    # A device's own table, once refreshed there, is not foreign to it.
    path = tmp_path / "phone.json"
    _refresh(SimulatedDevice(), SPACE.select(FIRST), path, "first")
    assert foreign_device_warning(str(path), DEVICE) is None
    assert DEVICE in foreign_device_warning(str(path), "another phone")
