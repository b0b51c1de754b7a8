"""`tfnas.loop`: search, measure on the device, refresh its table, search on."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from simulated_device import JitteryDevice, SimulatedDevice, network_flatbuffer

from tflite_bench.refresh import measure_parts, network_keys, refresh
from tfnas.config.tree import ConfigError
from tfnas.latency.model import net_latency, space_latency
from tfnas.latency.table import load_table
from tfnas.latency.targets import load_target
from tfnas.loop.pick import on_target
from tfnas.loop.run import LoopSettings, SearchOutcome, accuracy_line, run_loop
from tfnas.nets.load import load_net
from tfnas.search.config import resolve
from tfnas.search.runner import build_space


def simulated_refresh(*args, **kwargs):
    return refresh(
        *args,
        **kwargs,
        flatbuffer_of=lambda key, precision: b"",
        network_flatbuffer=network_flatbuffer,
    )


def simulated_parts(*args, **kwargs):
    return measure_parts(*args, **kwargs, flatbuffer_of=lambda key, precision: b"")


def simulated_loop(config, settings, device, out, log, search):
    """`run_loop` on a simulated device: parts and whole networks timed by `device` alone."""
    return run_loop(config, settings, device, out, log, simulated_refresh, search, simulated_parts)


def tiny_config(target_latency):
    return resolve(
        "demo",
        warmup_epochs=1,
        epochs=1,
        steps_per_epoch=8,
        arch_start_epoch=0,
        valid_size=200,
        checkpoint_every=100,
        target_latency=target_latency,
    )


def settled_search(calls):
    """A search that trains nothing: fixed probabilities, latencies from the table as it is now."""

    def search(config, search_dir, log):
        calls.append(config.recipe.epochs)
        space = build_space(config, num_classes=10)
        latency = space_latency(load_target(config.latency.target), space)
        rng = np.random.default_rng(0)
        probabilities = [rng.dirichlet(np.ones(len(b.candidates))) for b in space.choice_blocks]
        choices = [int(np.argmax(p)) for p in probabilities]
        summary = SimpleNamespace(
            ops=[f"op{c}" for c in choices],
            latency=latency.latency_of(choices),
            choices=choices,
            probabilities=[p.tolist() for p in probabilities],
            **fake_accuracy(choices),
        )
        return SearchOutcome(summary, space, latency, fake_accuracy)

    return search


def fake_accuracy(choices):
    """Stands in for the supernet's accuracy of a network: one figure per network."""
    valid = 0.5 + 0.01 * sum(c * (k + 1) for k, c in enumerate(choices)) % 0.4
    return {"valid_accuracy": valid, "test_accuracy": valid - 0.01}


@pytest.mark.parametrize("real_search", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_the_loop_lands_on_target_on_a_device_unlike_its_base(tmp_path, real_search):
    device = SimulatedDevice()  # 7x7 blocks 4.5x the cpu model, the rest 1.5x
    out = tmp_path / "loop"
    settings = LoopSettings(table=out / "device.json", rounds=3, tolerance=0.05)
    lines, calls = [], []
    search = None if real_search else settled_search(calls)
    report = simulated_loop(tiny_config(0.3), settings, device, out, lines.append, search)

    rounds = report["rounds"]
    first, last = rounds[0], rounds[-1]
    space = build_space(tiny_config(0.3), num_classes=10)
    # Round 1 first picked on the cpu model alone (the table was empty): in the
    # window there, and far from it on the device.
    cpu_pick = first["pick_steps"][0]
    assert cpu_pick["predicted_ms"] == pytest.approx(0.3, rel=settings.pick_tolerance)
    on_device = device.network_ms(network_keys(space.select(cpu_pick["choices"])))
    assert abs(on_device - 0.3) / 0.3 > 0.3
    # It measured that pick's parts and picked again, until a pick lacked none: the
    # network it timed was predicted from this device's parts alone, exactly but for
    # the per-network overhead that no part shows and no network had measured yet.
    assert len(first["pick_steps"]) >= 2 and first["pick_steps"][0]["measured_parts"]
    assert first["pick_steps"][-1]["measured_parts"] == []
    assert first["parts_before_pick"] == len(first["measured_parts"])
    assert first["measured_ms"] - first["predicted_ms"] == pytest.approx(device.overhead_ms)
    # Round 2 knows the overhead from round 1's network: its prediction is the device's.
    assert len(rounds) == 2
    assert last["predicted_ms"] == pytest.approx(last["measured_ms"], rel=1e-9)
    assert [r["search_epochs"] for r in rounds] == [1, 2]
    assert real_search or calls == [1, 2]
    # Each round measures only parts no earlier round measured.
    measured = [part for r in rounds for part in r["measured_parts"]]
    assert len(measured) == len(set(measured))
    spec = load_net(str(out / "arch.json"))
    assert last["measured_ms"] == pytest.approx(device.network_ms(network_keys(spec)))
    assert last["predicted_after_ms"] == pytest.approx(
        net_latency(load_target(str(settings.table)), spec).total
    )
    assert report["on_target"] is True and len(rounds) <= 3
    assert abs(last["measured_ms"] - 0.3) <= 0.05 * 0.3
    assert json.loads((out / "loop_report.json").read_text()) == report
    assert (out / "loop_rounds.png").read_bytes()[:4] == b"\x89PNG"
    assert any(line.startswith(f"round {len(rounds)}: measured") for line in lines)
    # Each round reports the accuracy of the network it timed, and the derived
    # network's, with the supernet's weights.
    for r in rounds:
        assert 0 < r["valid_accuracy"] <= 1 and 0 < r["derived_valid_accuracy"] <= 1
        if not real_search:
            assert r["valid_accuracy"] == fake_accuracy(r["choices"])["valid_accuracy"]
        if r["picked"].startswith("derived"):
            assert r["valid_accuracy"] == pytest.approx(r["derived_valid_accuracy"])
    assert first["picked"] == "most likely in the window"
    said = next(line for line in lines if line.startswith("round 1: measured"))
    assert "timed (most likely in the window), supernet's weights: held-out " in said
    assert f"; the derived network's: held-out {first['derived_valid_accuracy']:.4f}" in said

    # Resumed, the rounds in the report are not run again.
    def never(*args, **kwargs):
        raise AssertionError("measured again")

    again = run_loop(tiny_config(0.3), settings, device, out, lines.append, never, search, never)
    assert again["rounds"] == report["rounds"]
    with pytest.raises(ConfigError, match="is a loop for 0.3 ms .* not 0.5 ms"):
        run_loop(tiny_config(0.5), settings, device, out, lines.append, never, search, never)


def test_the_median_of_a_rounds_timings_decides_and_a_wide_spread_is_said(tmp_path):
    # Round 1 is off target on any timing; round 2's five timings scatter ±20% around
    # the truth: the median decides, and the loop says the device cannot tell ±5%.
    device = JitteryDevice([1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 0.8, 1.0, 1.05, 0.98])
    out = tmp_path / "loop"
    settings = LoopSettings(table=out / "device.json", rounds=2, tolerance=0.05, passes=5)
    lines = []
    report = simulated_loop(
        tiny_config(0.3), settings, device, out, lines.append, settled_search([])
    )
    first, second = report["rounds"]
    assert len(first["timings_ms"]) == len(second["timings_ms"]) == 5
    truth = device.network_ms(network_keys(load_net(str(out / "arch.json"))))
    assert second["measured_ms"] == pytest.approx(truth)
    assert second["timings_ms"][0] == pytest.approx(1.2 * truth)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert warnings == [
        "warning: round 2's 5 timings spread ±20.0%, more than the ±5% tolerance: this "
        "device's timings cannot tell that close; a larger --passes or a quieter device "
        "narrows them"
    ]


def test_settings_and_the_stopping_rule():
    assert on_target(1.04, 1.0, 0.05) and not on_target(0.94, 1.0, 0.05)
    with pytest.raises(ConfigError, match="--rounds=0: expected an integer >= 1"):
        LoopSettings(table="t.json", rounds=0)
    with pytest.raises(ConfigError, match=r"--tolerance=1.5: expected a fraction in \(0, 1\)"):
        LoopSettings(table="t.json", tolerance=1.5)
    with pytest.raises(ConfigError, match="--passes=0: expected an integer >= 1"):
        LoopSettings(table="t.json", passes=0)
    with pytest.raises(ConfigError, match="--pick_steps=0: expected an integer >= 1"):
        LoopSettings(table="t.json", pick_steps=0)
    assert LoopSettings(table="t.json", tolerance=0.08).pick_tolerance == pytest.approx(0.02)


def test_bad_loop_flags_give_one_error_line(tmp_path):
    from commands import error_lines, run_module

    result = run_module("tfnas.loop", "--rounds=0", f"--output_dir={tmp_path / 'loop'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert error_lines(result) == ["error: --rounds=0: expected an integer >= 1"]


def stand_in_device(tmp_path, monkeypatch) -> Path:
    """Installs the stand-in Android device (`fake_android`); returns its root folder."""
    import fake_android

    env = fake_android.install(tmp_path)
    for name in ("PATH", "FAKE_ADB_ROOT", "FAKE_ADB_STATE", "FAKE_BENCHMARK_FORMAT"):
        monkeypatch.setenv(name, env[name])
    return Path(env["FAKE_ADB_ROOT"])


# The stand-in's runs scatter by FAKE_NOISE (2%) each, so the median of 100 of them by
# about 1.25 * 2% / sqrt(100) = 0.25%: 1% is four standard deviations. benchmark_model
# prints the median to the microsecond, which moves it by up to half of one more.
TIMED_REL = 0.01
PRINTED_MS = 0.0005


def timed(truth_ms: float) -> object:
    """What a timing of a model that takes `truth_ms` may read: the noise plus the printing."""
    return pytest.approx(truth_ms, rel=0, abs=TIMED_REL * truth_ms + PRINTED_MS)


SLOW_KERNEL7_US = 60  # per 1000 output elements: a 7x7 block 2-3x as slow as on its own clock


def device_ms(flatbuffer: bytes, slow_kernel7_us: float = SLOW_KERNEL7_US) -> float:
    """What the stand-in device takes for a model, without its noise (ms)."""
    import fake_android

    return fake_android.simulated_model_us(flatbuffer, slow_kernel7_us) / 1000


def stand_in_runner(tmp_path):
    from tflite_bench.adb import AdbRunner

    return AdbRunner(benchmark_binary=str(tmp_path / "benchmark_model"), num_runs=100)


def reference_flatbuffer() -> bytes:
    """A network of the space, whose time on the device is a target the device can meet."""
    from tflite_bench.refresh import deployed_flatbuffer

    return deployed_flatbuffer(
        build_space(tiny_config(1.0), num_classes=10).select([4, 5, 0, 4, 1, 2])
    )


def adb_loop(tmp_path, settings, adb, target):
    """The loop over adb on the stand-in device; returns its report and its lines."""
    lines: list[str] = []
    report = run_loop(
        tiny_config(target),
        settings,
        adb,
        tmp_path / "loop",
        lines.append,
        refresh,
        settled_search([]),
    )
    return report, lines


def test_the_loop_lands_on_target_over_adb_on_a_device_with_slow_7x7_convolutions(
    tmp_path, monkeypatch
):
    from deploy.convert import serving_model, to_tflite
    from tflite_bench.key_models import key_flatbuffer
    from tflite_bench.refresh import deployed_flatbuffer
    from tfnas.nets.builder import build_net

    stand_in_device(tmp_path, monkeypatch)  # its clock is simulated: this machine's speed is moot
    monkeypatch.setenv("FAKE_SLOW_KERNEL7_US", str(SLOW_KERNEL7_US))
    settings = LoopSettings(
        table=tmp_path / "phone.json", rounds=3, tolerance=0.05, time_deployed=True
    )
    adb = stand_in_runner(tmp_path)
    report, _ = adb_loop(tmp_path, settings, adb, device_ms(reference_flatbuffer()))
    adb.close()
    rounds = report["rounds"]
    assert report["on_target"], report
    # It timed what it says it timed: the last network, as the device runs it.
    last = rounds[-1]
    spec = load_net(str(tmp_path / "loop" / "arch.json"))
    assert last["measured_ms"] == timed(device_ms(deployed_flatbuffer(spec)))
    assert abs(last["measured_ms"] - report["target_ms"]) <= 0.05 * report["target_ms"]
    # With --time_deployed each round also timed the file deploy.export writes: the
    # same network behind its normalization and softmax, which cost the device more.
    exported = to_tflite(serving_model(build_net(spec)), "float32")
    assert last["deployed_ms"] == timed(device_ms(exported))
    assert device_ms(exported) > device_ms(deployed_flatbuffer(spec))
    assert all(len(r["deployed_timings_ms"]) == settings.passes for r in rounds)
    # Each part was measured once, in some round, and the table holds exactly those.
    measured = [part for r in rounds for part in r["measured_parts"]]
    table = load_table(settings.table)
    assert len(measured) == len(set(measured)) and set(measured) == {str(k) for k in table}
    assert table.metadata.device == "tfnas stand-in device (SM-STANDIN)"
    # The table learned the device: each part as the device runs it, so a 7x7 block
    # with the device's extra time over its own clock, and no other block with any.
    extra_ms: dict[bool, list[float]] = {True: [], False: []}
    for key, measurement in table.entries.items():
        flatbuffer = key_flatbuffer(key)
        assert measurement.typical == timed(device_ms(flatbuffer)), key
        if key.kind == "expanded_conv":
            extra = device_ms(flatbuffer) - device_ms(flatbuffer, slow_kernel7_us=0)
            extra_ms[key.kernel == 7].append(extra)
    assert extra_ms[True] and extra_ms[False], extra_ms
    assert min(extra_ms[True]) > 0 and max(extra_ms[False]) == 0


def test_a_device_busy_for_whole_runs_is_said_to_time_too_widely_over_adb(tmp_path, monkeypatch):
    stand_in_device(tmp_path, monkeypatch)
    # Every run of one benchmark_model call is off by one factor: 20% of standard deviation.
    monkeypatch.setenv("FAKE_PASS_NOISE", "0.2")
    settings = LoopSettings(table=tmp_path / "phone.json", rounds=1, tolerance=0.05, passes=5)
    adb = stand_in_runner(tmp_path)
    report, lines = adb_loop(tmp_path, settings, adb, device_ms(reference_flatbuffer()))
    adb.close()
    (only,) = report["rounds"]
    timings = only["timings_ms"]
    spread = (max(timings) - min(timings)) / 2 / only["measured_ms"]
    assert len(timings) == 5 and spread > 0.05
    assert [line for line in lines if line.startswith("warning:")] == [
        f"warning: round 1's 5 timings spread ±{100 * spread:.1f}%, more than the ±5% "
        "tolerance: this device's timings cannot tell that close; a larger --passes or a "
        "quieter device narrows them"
    ]


@pytest.mark.timing
def test_the_loop_lands_on_target_over_adb_on_this_hosts_clock(tmp_path, monkeypatch):
    """The stand-in device timing real runs on this machine's wall clock (`make test-slow`).

    Host timings of these networks move by several percent on a busy machine, so
    this checks only what a quiet one shows: the loop lands, and the table's 7x7
    blocks are slower against the same host with the slowdown off.
    """
    from tflite_bench.key_models import key_flatbuffer

    stand_in_device(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_CLOCK", "host")
    monkeypatch.setenv("FAKE_SLOW_KERNEL7_US", str(SLOW_KERNEL7_US))
    adb = stand_in_runner(tmp_path)
    target = adb.time(reference_flatbuffer(), "reference").typical_ms
    settings = LoopSettings(table=tmp_path / "phone.json", rounds=3, tolerance=0.05)
    report, _ = adb_loop(tmp_path, settings, adb, target)
    assert report["on_target"], report
    table = load_table(settings.table)
    # Geometric means over the measured blocks. 1.5x, not the ~3x of a quiet host: on a
    # host twice as slow the fixed delay is half the share, and the stand-in rounds
    # its timings to 1 us, which moves a 5 us block by 20%.
    monkeypatch.setenv("FAKE_SLOW_KERNEL7_US", "0")
    ratios: dict[bool, list[float]] = {True: [], False: []}
    for key, measurement in table.entries.items():
        if key.kind == "expanded_conv":
            host = adb.time(key_flatbuffer(key), str(key)).typical_ms
            ratios[key.kernel == 7].append(np.log(measurement.typical / host))
    adb.close()
    assert ratios[True] and ratios[False], ratios
    assert np.exp(np.mean(ratios[True])) > 1.5 * np.exp(np.mean(ratios[False])), ratios


def test_refresh_over_adb_keeps_what_was_measured_when_the_device_disconnects(
    tmp_path, monkeypatch
):
    from tflite_bench.adb import AdbRunner
    from tflite_bench.runners import DeviceError

    root = stand_in_device(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_ADB_DISCONNECT_AFTER", "1000")
    adb = AdbRunner(benchmark_binary=str(tmp_path / "benchmark_model"), num_runs=5)
    started = int((root / "command_count").read_text())
    # Each key is one push and one shell: gone during the fourth key.
    monkeypatch.setenv("FAKE_ADB_DISCONNECT_AFTER", str(started + 7))
    spec = build_space(tiny_config(1.0), num_classes=10).select([0, 1, 2, 3, 4, 5])
    path = tmp_path / "phone.json"
    with pytest.raises(DeviceError, match="disconnected while timing .*run the same command again"):
        refresh(adb, spec, path, "net", log=lambda line: None)
    assert len(load_table(path)) == 3
    monkeypatch.delenv("FAKE_ADB_DISCONNECT_AFTER")  # plugged in again
    adb = AdbRunner(benchmark_binary=str(tmp_path / "benchmark_model"), num_runs=5)
    result = refresh(adb, spec, path, "net", log=lambda line: None)
    adb.close()
    assert len(result.measured_keys) == len(set(network_keys(spec))) - 3
    assert len(load_table(path).metadata.networks) == 1


def test_a_table_of_another_device_is_refused_before_any_search(tmp_path):
    from tflite_bench.refresh import RefreshError

    table = tmp_path / "phone.json"
    settings = LoopSettings(table=table, rounds=1)
    device = SimulatedDevice()
    search = settled_search([])
    simulated_loop(tiny_config(0.3), settings, device, tmp_path / "a", print, search)
    calls = []
    with pytest.raises(RefreshError, match="measured with device"):
        simulated_loop(
            tiny_config(0.3),
            settings,
            SimulatedDevice(device="another phone"),
            tmp_path / "b",
            print,
            settled_search(calls),
        )
    assert calls == []


def test_the_accuracy_line_names_the_network_timed_and_a_missing_split():
    record = {
        "picked": "derived (nothing in the window)",
        "valid_accuracy": None,
        "test_accuracy": 0.91234,
        "derived_valid_accuracy": None,
        "derived_test_accuracy": 0.91234,
    }
    assert accuracy_line(record) == (
        "accuracy of the network timed (derived (nothing in the window)), supernet's weights: "
        "test 0.9123"
    )
    record |= {"picked": "most likely in the window", "test_accuracy": None}
    assert accuracy_line(record).endswith(
        "weights: no split to tell; the derived network's: test 0.9123"
    )
