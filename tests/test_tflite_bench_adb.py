"""The adb runner against a stand-in device (`fake_android`): push, pinned run, parse, cleanup,
device metadata, and the errors a user meets."""

import json
import os
from pathlib import Path

import fake_android
import pytest
from commands import REPO_ROOT, run_module

from tflite_bench import key_models
from tflite_bench.adb import REMOTE_DIR, AdbRunner, core_mask
from tflite_bench.runners import DeviceError
from tfnas.latency.keys import parse_key

KEY = parse_key("expanded_conv-input:8x8x8-output:8x8x8-expand:3-kernel:3-stride:1-idskip:1")


@pytest.fixture(scope="module")
def flatbuffer() -> bytes:
    return key_models.key_flatbuffer(KEY)


def device(tmp_path, monkeypatch, state="device", output_format="new") -> Path:
    """Installs the stand-in device; returns its root folder."""
    env = fake_android.install(tmp_path, state, output_format)
    for name in ("PATH", "FAKE_ADB_ROOT", "FAKE_ADB_STATE", "FAKE_BENCHMARK_FORMAT"):
        monkeypatch.setenv(name, env[name])
    return Path(env["FAKE_ADB_ROOT"])


def runner(tmp_path, **options) -> AdbRunner:
    return AdbRunner(benchmark_binary=str(tmp_path / "benchmark_model"), num_runs=5, **options)


@pytest.mark.parametrize("output_format", ["new", "old"])
def test_a_model_is_pushed_run_pinned_to_the_fast_cores_and_parsed(
    tmp_path, monkeypatch, flatbuffer, output_format
):
    root = device(tmp_path, monkeypatch, output_format=output_format)
    adb = runner(tmp_path)
    remote = Path(str(root) + REMOTE_DIR)
    assert (remote / "benchmark_model").exists()  # pushed once, executable
    timing = adb.time(flatbuffer, "block")
    assert (remote / "model.tflite").read_bytes() == flatbuffer
    assert timing.count == 5 and timing.mean_ms > 0
    assert (timing.median_ms is not None) == (output_format == "new")
    # Cores 4-7 have the highest max frequency: mask f0.
    assert (root / "taskset.log").read_text().split() == ["f0"]
    assert adb.cores == [4, 5, 6, 7]
    adb.close()
    assert not remote.exists()  # nothing left on the device


def test_the_stand_ins_clock_repeats_whatever_the_weights_and_the_host(tmp_path, monkeypatch):
    # Two conversions of one key hold different random weights; two fresh devices
    # time them alike: the clock follows the graph, the noise its ops and the call count.
    timings = []
    for k in range(2):
        device(tmp_path / str(k), monkeypatch)
        adb = runner(tmp_path / str(k))
        timings.append([adb.time(key_models.key_flatbuffer(KEY), "block") for _ in range(2)])
        adb.close()
    assert timings[0] == timings[1]
    first, second = timings[0]
    assert first != second  # the second call draws other noise
    truth = fake_android.simulated_model_us(key_models.key_flatbuffer(KEY)) / 1000
    assert first.median_ms == pytest.approx(truth, rel=0.05)  # 5 runs of 2% noise, printed to 1 us


def test_the_device_is_recorded_in_the_metadata(tmp_path, monkeypatch):
    device(tmp_path, monkeypatch)
    adb = runner(tmp_path, delegate="xnnpack", threads=1)
    metadata = adb.metadata("float32")
    info = metadata.device_info
    assert info["model"] == fake_android.MODEL and info["soc"] == "SM-STANDIN"
    assert info["android"] == "14" and info["cpu_governor"] == "schedutil"
    assert info["cores"] == "4,5,6,7" and info["serial"] == fake_android.SERIAL
    assert metadata.device == f"{fake_android.MODEL} (SM-STANDIN)"
    assert metadata.delegate == "xnnpack" and metadata.threads == 1
    adb.close()


def test_the_command_carries_the_runner_settings(tmp_path, monkeypatch):
    device(tmp_path, monkeypatch)
    adb = runner(tmp_path, cores=[0, 2], threads=2, warmup_runs=3, delegate="gpu")
    command = adb.command("/data/local/tmp/tfnas_bench/model.tflite")
    assert command.startswith("taskset 5 /data/local/tmp/tfnas_bench/benchmark_model ")
    for flag in ("--num_threads=2", "--warmup_runs=3", "--num_runs=5", "--use_gpu=true"):
        assert flag in command
    adb.close()
    assert core_mask([4, 5, 6, 7]) == "f0"


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("none", "no Android device: `adb devices` lists none"),
        ("unauthorized", "device FAKE0001 is unauthorized: unlock it and accept"),
        ("two", "several devices attached (FAKE0001, FAKE0002); choose one with --device=adb:"),
    ],
)
def test_device_problems_are_explained(tmp_path, monkeypatch, state, message):
    device(tmp_path, monkeypatch, state=state)
    with pytest.raises(DeviceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        runner(tmp_path)


def test_a_missing_binary_says_how_to_get_one(tmp_path, monkeypatch):
    device(tmp_path, monkeypatch)
    with pytest.raises(DeviceError, match="--benchmark_binary=.*nothing: no such file; build"):
        AdbRunner(benchmark_binary=str(tmp_path / "nothing"))


def test_a_crashing_run_names_the_model_and_shows_the_output(tmp_path, monkeypatch, flatbuffer):
    device(tmp_path, monkeypatch)
    adb = runner(tmp_path)
    monkeypatch.setenv("FAKE_BENCHMARK_CRASH", "1")
    with pytest.raises(DeviceError, match=r"crashed on block \(exit status 139\)") as error:
        adb.time(flatbuffer, "block")
    assert "Segmentation fault" in str(error.value)
    adb.close()


def test_a_missing_adb_says_how_to_install_it(tmp_path):
    with pytest.raises(DeviceError, match="adb not found .*apt install adb"):
        AdbRunner(adb=str(tmp_path / "no-adb"), benchmark_binary=__file__)


def test_measure_over_adb_from_the_command_line(tmp_path, flatbuffer):
    env = fake_android.install(tmp_path)
    model = tmp_path / "block.tflite"
    model.write_bytes(flatbuffer)
    result = run_module(
        "tflite_bench.measure",
        str(model),
        "--device=adb",
        f"--benchmark_binary={tmp_path / 'benchmark_model'}",
        "--num_runs=4",
        "--json",
        env=env | {"PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["count"] == 4 and figures["median_ms"] > 0
    assert figures["device"] == f"{fake_android.MODEL} (SM-STANDIN)"
    assert not os.path.exists(env["FAKE_ADB_ROOT"] + REMOTE_DIR)
