"""The `--device` flags that `measure`, `build_table` and `validate` share.

`define_device_flags()` defines them; each command calls it in its
`__main__` block only, so importing this module defines no flags.
"""

from __future__ import annotations

from typing import Any

from tflite_bench.runners import DELEGATES, Runner, open_runner
from tfnas.config.tree import ConfigError


def define_device_flags() -> None:
    """Defines --device and the runner settings (call from a `__main__` block)."""
    from absl import flags

    flags.DEFINE_string("device", "host", "host (this machine), adb, or adb:SERIAL.")
    flags.DEFINE_integer("threads", 1, "Interpreter threads (--num_threads on adb).")
    flags.DEFINE_integer("warmup_runs", 10, "Untimed runs before timing.")
    flags.DEFINE_integer("num_runs", 50, "Timed runs (at least).")
    flags.DEFINE_float("min_seconds", 1.0, "host: time each model for at least this long.")
    flags.DEFINE_string("adb", "adb", "adb: the adb executable.")
    flags.DEFINE_string(
        "benchmark_binary", None, "adb: path of TFLite's Android benchmark_model binary."
    )
    flags.DEFINE_list("cores", None, "adb: cores to pin to (default: the fastest cores).")
    flags.DEFINE_enum("delegate", "xnnpack", list(DELEGATES), "adb: the delegate.")


def runner_from_flags(flag_values: Any) -> Runner:
    """The runner the device flags describe.

    Raises:
        ValueError: A bad setting (named).
        DeviceError: A device that cannot measure.
    """
    options: dict[str, Any] = {
        "threads": flag_values.threads,
        "warmup_runs": flag_values.warmup_runs,
        "num_runs": flag_values.num_runs,
    }
    if flag_values.device == "host":
        options["min_seconds"] = flag_values.min_seconds
    else:
        cores = flag_values.cores
        try:
            options["cores"] = [int(core) for core in cores] if cores else None
        except ValueError:
            raise ConfigError(f"--cores={','.join(cores)}: expected core numbers") from None
        options.update(
            adb=flag_values.adb,
            benchmark_binary=flag_values.benchmark_binary,
            delegate=flag_values.delegate,
        )
    return open_runner(flag_values.device, **options)
