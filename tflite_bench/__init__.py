"""Latency measurement on the host and on Android over adb; building and validating tables.

- `key_models`: the TFLite model of each latency-table key, and whole networks;
- `timing`: what every runner shares (`Timing`, `Runner`, `DeviceError`);
- `runners`: the host runner (LiteRT in-process) and `open_runner`;
- `adb`: the adb client and the runner around TFLite's `benchmark_model`;
- `benchmark_output`: parsing `benchmark_model`'s result lines;
- commands: `measure` (one model), `build_table` (every key of a space),
  `validate` (table sums against whole networks).
"""

from tfnas.quiet import quiet_when_started_as_command

quiet_when_started_as_command()  # `python -m` commands start without TensorFlow's C++ noise
