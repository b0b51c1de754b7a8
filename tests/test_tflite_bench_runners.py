"""The host runner and the `--device` dispatch."""

import os

import pytest

from tflite_bench import key_models
from tflite_bench.runners import HostRunner, Timing, open_runner, pinned_to_one_core
from tfnas.latency.keys import parse_key

KEY = parse_key("expanded_conv-input:8x8x8-output:8x8x8-expand:3-kernel:3-stride:1-idskip:1")


@pytest.fixture(scope="module")
def flatbuffer() -> bytes:
    return key_models.key_flatbuffer(KEY)


class SimulatedClock:
    """A clock that moves `tick` seconds each time it is read."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_the_host_runner_times_at_least_the_runs_and_the_seconds_asked(flatbuffer):
    # Each run reads the clock twice, one tick apart: every run takes 0.1 ms on it.
    clock = SimulatedClock(tick=1e-4)
    runner = HostRunner(warmup_runs=2, num_runs=5, min_seconds=0.05, clock=clock)
    timing = runner.time(flatbuffer, "block")
    # Past 5 runs it timed on until 0.05 s had passed, and stopped at the first check after.
    assert timing.count > 5
    assert 0.05 <= clock.now - clock.tick <= 0.05 + 3 * clock.tick
    for figure in (timing.median_ms, timing.min_ms, timing.max_ms, timing.mean_ms):
        assert figure == pytest.approx(0.1)  # to float round-off of the clock's sums
    assert timing.std_ms == pytest.approx(0, abs=1e-9)
    entry = timing.measurement()
    assert (entry.mean, entry.median, entry.count) == (
        timing.mean_ms,
        timing.median_ms,
        timing.count,
    )
    assert entry.typical == timing.median_ms
    # However long a run takes, at least num_runs are timed.
    slow = HostRunner(warmup_runs=0, num_runs=5, min_seconds=0.05, clock=SimulatedClock(1.0))
    assert slow.time(flatbuffer, "block").count == 5


def test_the_host_runner_times_on_the_wall_clock_by_default(flatbuffer):
    timing = HostRunner(warmup_runs=1, num_runs=3, min_seconds=0).time(flatbuffer, "block")
    assert timing.count == 3 and 0 < timing.min_ms <= timing.median_ms <= timing.max_ms


def test_pinning_uses_one_core_and_restores_the_affinity():
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    before = os.sched_getaffinity(0)
    with pinned_to_one_core() as core:
        assert os.sched_getaffinity(0) == {core}
    assert os.sched_getaffinity(0) == before


def test_host_metadata_names_the_machine_and_the_settings():
    metadata = HostRunner(num_runs=7).metadata("int8")
    assert metadata.precision == "int8" and metadata.threads == 1
    assert metadata.device_info["cores"] == str(os.cpu_count())
    assert "at least 7 runs" in metadata.source and metadata.tool == "tflite_bench (host)"


def test_a_broken_flatbuffer_is_a_device_error_naming_the_model():
    from tflite_bench.runners import DeviceError

    with pytest.raises(DeviceError, match="broken.tflite: the interpreter cannot load it"):
        HostRunner().time(b"not a model at all", "broken.tflite")


@pytest.mark.parametrize(
    ("device", "options", "message"),
    [
        ("phone", {}, "--device=phone: expected host, adb or adb:SERIAL"),
        ("host", {"num_runs": 0}, "--num_runs=0: expected an integer >= 1"),
        ("host", {"threads": 0}, "--threads=0: expected an integer >= 1"),
    ],
)
def test_bad_devices_and_settings_are_named(device, options, message):
    with pytest.raises(ValueError, match=message):
        open_runner(device, **options)


def test_the_typical_figure_is_the_median_when_there_is_one():
    assert Timing(2.0, 1.5, 0.1, 10).typical_ms == 1.5
    assert Timing(2.0, None, 0.1, 10).typical_ms == 2.0
