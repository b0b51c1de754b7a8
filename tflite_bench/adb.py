"""Timing TFLite models on an Android device over adb, with TFLite's `benchmark_model`.

No package ships the Android `benchmark_model` binary: build it
(`bazel build -c opt --config=android_arm64
//tensorflow/lite/tools/benchmark:benchmark_model`) or download a prebuilt
one, and pass its path with `--benchmark_binary`. The runner

1. picks the device (`adb devices`; `--device=adb:SERIAL` when several are
   attached) and says plainly when there is none or it is unauthorized;
2. pushes the binary to `/data/local/tmp/tfnas_bench/`, and each model there;
3. runs it pinned with `taskset` to the fastest cores (the cores with the
   highest `cpuinfo_max_freq`, unless `--cores` says which), with
   `--num_threads`, `--warmup_runs`, `--num_runs` and the delegate's flag;
4. parses the result lines (`tflite_bench.benchmark_output`, any version);
5. records the device (model, SoC, Android version, CPU governor, cores)
   in the table's metadata, and removes everything it pushed on `close()`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from tflite_bench.benchmark_output import BenchmarkOutputError, parse_benchmark_output
from tflite_bench.timing import DELEGATES, DeviceError, Timing
from tfnas.config.tree import ConfigError
from tfnas.latency.table import TableMetadata, today

REMOTE_DIR = "/data/local/tmp/tfnas_bench"
DELEGATE_FLAGS = {
    "none": ["--use_xnnpack=false"],
    "xnnpack": ["--use_xnnpack=true"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
}
_MAX_FREQ = re.compile(r"/cpu(\d+)/cpufreq/cpuinfo_max_freq\s+(\d+)")
ADB_TIMEOUT_S = 120
BENCHMARK_TIMEOUT_S = 600


class Adb:
    """A thin `adb` client for one device.

    Args:
        adb: The adb executable (a name on PATH or a path).
        serial: The device's serial; None picks the only device attached.
    """

    def __init__(self, adb: str = "adb", serial: str | None = None) -> None:
        self.adb = adb
        self.serial = serial

    def run(self, *args: str, timeout: float = ADB_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Runs `adb [-s SERIAL] ARGS`; returns the finished process (output as text)."""
        target = ["-s", self.serial] if self.serial else []
        try:
            return subprocess.run(
                [self.adb, *target, *args],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except FileNotFoundError:
            raise DeviceError(
                f"adb not found ({self.adb!r}); install it (`apt install adb` or the Android "
                "SDK platform-tools) or pass its path with --adb"
            ) from None
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"`adb {' '.join(args)[:80]}` did not finish in {timeout:.0f} s"
            ) from None

    def devices(self) -> list[tuple[str, str]]:
        """(serial, state) of every attached device (`device`, `unauthorized`, `offline`)."""
        result = Adb(self.adb).run("devices")
        if result.returncode != 0:
            raise DeviceError(f"`adb devices` failed: {result.stderr.strip() or result.stdout}")
        found = []
        for line in result.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith(("List of devices", "*")):
                found.append((parts[0], parts[1]))
        return found

    def connect(self) -> str:
        """Checks that the device is attached and authorized; returns (and keeps) its serial."""
        devices = self.devices()
        if not devices:
            raise DeviceError(
                "no Android device: `adb devices` lists none; connect a phone with USB "
                "debugging on (or `adb connect HOST:PORT`)"
            )
        if self.serial is None:
            if len(devices) > 1:
                serials = ", ".join(serial for serial, _ in devices)
                raise DeviceError(
                    f"several devices attached ({serials}); choose one with --device=adb:SERIAL"
                )
            self.serial = devices[0][0]
        states = dict(devices)
        if self.serial not in states:
            listed = ", ".join(states)
            raise DeviceError(f"device {self.serial!r} is not attached (adb lists: {listed})")
        state = states[self.serial]
        if state == "unauthorized":
            raise DeviceError(
                f"device {self.serial} is unauthorized: unlock it and accept the "
                "'Allow USB debugging' prompt, then run again"
            )
        if state != "device":
            raise DeviceError(
                f"device {self.serial} is {state}; reconnect it (`adb reconnect`) and run again"
            )
        return self.serial

    def shell(self, command: str, timeout: float = ADB_TIMEOUT_S) -> tuple[int, str]:
        """Runs a shell command on the device; returns its exit status and combined output."""
        result = self.run("shell", command, timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    def push(self, local: str | os.PathLike[str], remote: str) -> None:
        """Copies a file to the device."""
        result = self.run("push", str(local), remote)
        if result.returncode != 0:
            raise DeviceError(f"`adb push {local} {remote}` failed: {result.stderr.strip()}")

    def getprop(self, name: str) -> str:
        """An Android system property ('' when unset)."""
        return self.shell(f"getprop {name}")[1].strip()


def core_mask(cores: list[int]) -> str:
    """The hexadecimal CPU mask of `taskset` for `cores`."""
    return format(sum(1 << core for core in cores), "x")


@dataclasses.dataclass
class AdbRunner:
    """Times flatbuffers on an Android device with a user-supplied `benchmark_model`.

    Attributes:
        serial: The device (None: the only one attached).
        adb: The adb executable.
        benchmark_binary: Path of the Android `benchmark_model` binary on this machine.
        cores: Cores to pin to (None: the fastest cores of the device).
        threads: `--num_threads`.
        warmup_runs: `--warmup_runs`.
        num_runs: `--num_runs` (benchmark_model also runs at least one second).
        delegate: `none`, `xnnpack`, `gpu` or `nnapi`.
    """

    serial: str | None = None
    adb: str = "adb"
    benchmark_binary: str | None = None
    cores: list[int] | None = None
    threads: int = 1
    warmup_runs: int = 10
    num_runs: int = 50
    delegate: str = "xnnpack"
    device: str = dataclasses.field(init=False, default="")

    def __post_init__(self) -> None:
        if self.delegate not in DELEGATES:
            raise ConfigError(f"--delegate={self.delegate}: expected one of {', '.join(DELEGATES)}")
        for name, least in (("threads", 1), ("warmup_runs", 0), ("num_runs", 1)):
            if getattr(self, name) < least:
                raise ConfigError(f"--{name}={getattr(self, name)}: expected an integer >= {least}")
        binary = Path(self.benchmark_binary) if self.benchmark_binary else None
        if binary is None or not binary.is_file():
            raise DeviceError(
                f"--benchmark_binary={self.benchmark_binary or ''}: no such file; build TFLite's "
                "Android benchmark_model (bazel build -c opt --config=android_arm64 "
                "//tensorflow/lite/tools/benchmark:benchmark_model) or download a prebuilt "
                "one, and pass its path"
            )
        self._client = Adb(self.adb, self.serial)
        self.serial = self._client.connect()
        self._binary_sha256 = hashlib.sha256(binary.read_bytes()).hexdigest()
        self._shell_checked(f"rm -rf {REMOTE_DIR} && mkdir -p {REMOTE_DIR}")
        self._client.push(binary, f"{REMOTE_DIR}/benchmark_model")
        self._shell_checked(f"chmod 755 {REMOTE_DIR}/benchmark_model")
        if self.cores is None:
            self.cores = self._fastest_cores()
        self.info = self._device_info()
        self.device = f"{self.info['model']} ({self.info['soc']})"

    def _shell_checked(self, command: str) -> str:
        status, output = self._client.shell(command)
        if status != 0:
            raise DeviceError(f"`{command}` failed on {self.serial}: {output.strip()[-500:]}")
        return output

    def _fastest_cores(self) -> list[int]:
        status, output = self._client.shell(
            "for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/cpuinfo_max_freq; "
            'do echo "$f $(cat $f)"; done'
        )
        frequencies = {int(c): int(f) for c, f in _MAX_FREQ.findall(output)} if status == 0 else {}
        if not frequencies:
            return []  # unknown: run unpinned, and say so in the metadata
        fastest = max(frequencies.values())
        return sorted(core for core, freq in frequencies.items() if freq == fastest)

    def _device_info(self) -> dict[str, str]:
        getprop = self._client.getprop
        first = self.cores[0] if self.cores else 0
        governor_file = f"/sys/devices/system/cpu/cpu{first}/cpufreq/scaling_governor"
        status, governor = self._client.shell(f"cat {governor_file}")
        return {
            "serial": self.serial or "",
            "model": getprop("ro.product.model") or "unknown",
            "manufacturer": getprop("ro.product.manufacturer") or "unknown",
            "soc": getprop("ro.soc.model") or getprop("ro.board.platform") or "unknown",
            "android": getprop("ro.build.version.release") or "unknown",
            "cpu_governor": governor.strip() if status == 0 else "unknown",
            "cores": ",".join(map(str, self.cores)) if self.cores else "unpinned",
            "benchmark_model_sha256": self._binary_sha256,
        }

    def command(self, graph: str) -> str:
        """The shell command that times `graph` on the device."""
        run = [
            f"{REMOTE_DIR}/benchmark_model",
            f"--graph={graph}",
            f"--num_threads={self.threads}",
            f"--warmup_runs={self.warmup_runs}",
            f"--num_runs={self.num_runs}",
            *DELEGATE_FLAGS[self.delegate],
        ]
        pin = ["taskset", core_mask(self.cores)] if self.cores else []
        return shlex.join([*pin, *run])

    def time(self, flatbuffer: bytes, name: str) -> Timing:
        """Pushes the model, runs `benchmark_model` on it, parses its result.

        Raises:
            DeviceError: The device went away (said so), or benchmark_model
                failed or printed no timing.
        """
        graph = f"{REMOTE_DIR}/model.tflite"
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "model.tflite"
            local.write_bytes(flatbuffer)
            try:
                self._client.push(local, graph)
            except DeviceError:
                self._check_attached(name)
                raise
        status, output = self._client.shell(self.command(graph), timeout=BENCHMARK_TIMEOUT_S)
        tail = "\n".join(output.strip().splitlines()[-5:])
        if status != 0:
            self._check_attached(name)
            raise DeviceError(f"benchmark_model crashed on {name} (exit status {status}):\n{tail}")
        try:
            result = parse_benchmark_output(output)
        except BenchmarkOutputError as error:
            raise DeviceError(
                f"benchmark_model gave no timing for {name} ({error}):\n{tail}"
            ) from None
        return Timing(
            mean_ms=result.mean_ms,
            median_ms=result.median_ms,
            std_ms=result.std_ms if result.std_ms is not None else 0.0,
            count=result.count or self.num_runs,
            min_ms=result.min_ms,
            max_ms=result.max_ms,
        )

    def _check_attached(self, name: str) -> None:
        """Raises a `DeviceError` that says so when the device is no longer attached."""
        attached = dict(self._client.devices())
        if attached.get(self.serial) != "device":
            raise DeviceError(
                f"device {self.serial} disconnected while timing {name}; reconnect it and run "
                "the same command again (what was measured before is kept)"
            )

    def metadata(self, precision: str) -> TableMetadata:
        """The device, benchmark_model, threads, delegate and pinning."""
        pinning = f"pinned to cores {self.info['cores']}" if self.cores else "unpinned"
        return TableMetadata(
            device=self.device,
            runtime="tflite (benchmark_model)",
            runtime_version=f"sha256:{self._binary_sha256[:12]}",
            threads=self.threads,
            delegate=self.delegate,
            date=today(),
            tool="tflite_bench (adb)",
            source=(
                f"measured over adb on {self.serial}: benchmark_model, {self.warmup_runs} "
                f"warmup runs, {self.num_runs} runs per entry, {pinning}"
            ),
            precision=precision,
            device_info=dict(self.info),
        )

    def close(self) -> None:
        """Removes the binary and the models pushed to the device."""
        self._client.shell(f"rm -rf {REMOTE_DIR}")
