"""`python -m tflite_bench.measure MODEL.tflite --device=host|adb[:SERIAL] [--json]`.

Times one TFLite model and prints its mean, median, standard deviation and
run count in milliseconds (`--json`: one object with `mean_ms`, `median_ms`,
`std_ms`, `count`, `min_ms`, `max_ms`, `device`). The device flags are
`tflite_bench.device_flags`'.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from tflite_bench.runners import Runner, Timing


class MeasureError(ValueError):
    """A model file that cannot be measured; the message says why."""


def measure_file(runner: Runner, path: str | Path) -> Timing:
    """Times the flatbuffer at `path` with `runner`."""
    path = Path(path)
    if not path.is_file():
        raise MeasureError(f"{path}: no such file; give the path of a .tflite model")
    data = path.read_bytes()
    # A flatbuffer's file identifier sits at bytes 4..8; TFLite's is "TFL3".
    if data[4:8] != b"TFL3":
        raise MeasureError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    return runner.time(data, path.name)


def main(argv: list[str]) -> int:
    """Measures the model named on the command line; returns the exit status."""
    from absl import flags

    from tflite_bench.device_flags import runner_from_flags
    from tflite_bench.runners import DeviceError
    from tfnas.runtime import run_command

    flag_values = flags.FLAGS
    if len(argv) != 2:
        print("error: give exactly one MODEL.tflite; see --help", file=sys.stderr)
        return 2

    def body() -> int:
        runner = runner_from_flags(flag_values)
        try:
            timing = measure_file(runner, argv[1])
        finally:
            runner.close()
        result: dict[str, Any] = {**dataclasses.asdict(timing), "device": runner.device}
        if flag_values.json:
            print(json.dumps(result))
        else:
            median = "n/a" if timing.median_ms is None else f"{timing.median_ms:.3f}"
            print(
                f"{argv[1]} on {runner.device}: mean {timing.mean_ms:.3f} ms, median "
                f"{median} ms, std {timing.std_ms:.3f} ms over {timing.count} runs"
            )
        return 0

    return run_command(argv[:1], body, errors=(MeasureError, DeviceError, ValueError))


if __name__ == "__main__":
    from absl import app, flags

    from tflite_bench.device_flags import define_device_flags

    define_device_flags()
    flags.DEFINE_bool("json", False, "Print one JSON object.")
    app.run(lambda argv: sys.exit(main(argv)))
