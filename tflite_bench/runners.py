"""Where a TFLite model is timed: this machine (`host`) or an Android device (`adb[:SERIAL]`).

Every runner has the same interface (`Runner`): `time(flatbuffer, name)`
returns a `Timing`, `metadata(precision)` says what a table measured with it
should record, and `close()` releases what it holds. `open_runner` turns a
`--device` value into a runner.

The host runner makes repeated measurements agree by

- pinning the process to one core while it times (`os.sched_setaffinity`),
  so the scheduler does not migrate it between cores mid-run;
- one interpreter thread (XNNPACK's default delegate, no thread pool);
- warmup runs before timing (first-run allocation, cold caches);
- timing at least `num_runs` invocations *and* at least `min_seconds`, so a
  0.05 ms block is timed over thousands of runs, not fifty;
- reporting the median next to the mean: on a shared machine, preemption
  adds rare long runs that move the mean and not the median.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tflite_bench.adb import AdbRunner
from tflite_bench.timing import DELEGATES, DeviceError, Runner, Timing
from tfnas.config.tree import ConfigError
from tfnas.latency.table import TableMetadata, today

# The shared types, importable from here as before.
__all__ = [
    "DELEGATES",
    "DeviceError",
    "HostRunner",
    "Runner",
    "Timing",
    "cpu_name",
    "open_runner",
    "pinned_to_one_core",
]


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@contextlib.contextmanager
def pinned_to_one_core() -> Iterator[int | None]:
    """Runs the block with this process pinned to its last allowed core; yields the core."""
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    core = max(allowed)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, allowed)


@dataclasses.dataclass
class HostRunner:
    """The LiteRT interpreter (`ai_edge_litert`) in this process.

    Attributes:
        threads: Interpreter threads.
        warmup_runs: Untimed runs first.
        num_runs: At least this many timed runs.
        min_seconds: And at least this long timing.
        pin: Pin the process to one core while timing (with `threads == 1`).
        clock: Seconds, as `time.perf_counter` counts them (tests give a
            simulated clock, so that what they check does not depend on
            this machine's speed).
    """

    threads: int = 1
    warmup_runs: int = 10
    num_runs: int = 50
    min_seconds: float = 1.0
    pin: bool = True
    clock: Callable[[], float] = dataclasses.field(default=time.perf_counter, repr=False)
    device: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        for name, least in (("threads", 1), ("warmup_runs", 0), ("num_runs", 1)):
            value = getattr(self, name)
            if value < least:
                raise ConfigError(f"--{name}={value}: expected an integer >= {least}")
        self.device = f"{cpu_name()} ({os.cpu_count()} cores)"

    def time(self, flatbuffer: bytes, name: str) -> Timing:
        """Times `flatbuffer` on random input (its latency does not depend on values)."""
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_content=flatbuffer, num_threads=self.threads)
            interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as error:
            raise DeviceError(f"{name}: the interpreter cannot load it: {error}") from None
        rng = np.random.default_rng(0)
        for detail in interpreter.get_input_details():
            data = rng.standard_normal(detail["shape"]) * 50
            interpreter.set_tensor(detail["index"], data.astype(detail["dtype"]))
        pin = self.pin and self.threads == 1
        with pinned_to_one_core() if pin else contextlib.nullcontext():
            for _ in range(self.warmup_runs):
                interpreter.invoke()
            times = []
            clock = self.clock
            began = clock()
            while len(times) < self.num_runs or clock() - began < self.min_seconds:
                start = clock()
                interpreter.invoke()
                times.append((clock() - start) * 1e3)
        return Timing(
            mean_ms=statistics.fmean(times),
            median_ms=statistics.median(times),
            std_ms=statistics.pstdev(times),
            count=len(times),
            min_ms=min(times),
            max_ms=max(times),
        )

    def metadata(self, precision: str) -> TableMetadata:
        """The CPU, the LiteRT version, one thread and XNNPACK."""
        import ai_edge_litert

        return TableMetadata(
            device=self.device,
            runtime="tflite (ai-edge-litert interpreter, default XNNPACK delegate)",
            runtime_version=getattr(ai_edge_litert, "__version__", "unknown"),
            threads=self.threads,
            delegate="xnnpack",
            date=today(),
            tool="tflite_bench (host)",
            source=(
                f"measured on this machine: {self.warmup_runs} warmup runs, then at least "
                f"{self.num_runs} runs and {self.min_seconds} s per entry"
                + (", pinned to one core" if self.pin and self.threads == 1 else "")
            ),
            precision=precision,
            device_info={
                "cpu": cpu_name(),
                "cores": str(os.cpu_count()),
                "system": f"{platform.system()} {platform.release()}",
                "python": platform.python_version(),
            },
        )

    def close(self) -> None:
        """Nothing to release."""


def open_runner(device: str, **options: Any) -> Runner:
    """The runner for a `--device` value: `host`, `adb` or `adb:SERIAL`.

    Args:
        device: The device.
        options: The runner's settings: `threads`, `warmup_runs`, `num_runs`,
            and for the host `min_seconds`; for adb `adb`, `benchmark_binary`,
            `cores`, `delegate` (see `tflite_bench.adb.AdbRunner`).

    Raises:
        ValueError: An unknown device.
        DeviceError: An adb device that cannot measure.
    """
    host_options = ("threads", "warmup_runs", "num_runs", "min_seconds")
    if device == "host":
        return HostRunner(**{k: v for k, v in options.items() if k in host_options})
    if device == "adb" or device.startswith("adb:"):
        serial = device.partition(":")[2] or None
        adb_options = {k: v for k, v in options.items() if k != "min_seconds"}
        return AdbRunner(serial=serial, **adb_options)
    raise ConfigError(f"--device={device}: expected host, adb or adb:SERIAL")
