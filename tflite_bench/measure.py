"""`python -m tflite_bench.measure MODEL.tflite [MODEL.tflite ...] --device=host|adb[:SERIAL]`.

Times TFLite models and prints each one's mean, median, standard deviation
and run count in milliseconds (`--json`: one object per model and line, with
`mean_ms`, `median_ms`, `std_ms`, `count`, `min_ms`, `max_ms`, `device`,
`model`). `--passes=N` times all models N times in turn and combines each
model's passes (`combine_passes`), so that a burst of load on the machine
moves one pass of every model rather than every pass of one. The device
flags are `tflite_bench.device_flags`'.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tflite_bench.device_flags import runner_from_flags
from tflite_bench.runners import Runner, Timing
from tfnas.engine.command import run_command
from tfnas.errors import UserError


class MeasureError(UserError, ValueError):
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


def combine_passes(timings: Sequence[Timing]) -> Timing:
    """One timing from several passes over the same model.

    The median is the median of the passes' typical times (robust to a pass
    that a burst of load slowed), the mean the mean of their means, the
    spread the largest pass's, the count all runs.
    """
    if not timings:
        raise ValueError("no passes to combine")
    mins = [t.min_ms for t in timings if t.min_ms is not None]
    maxes = [t.max_ms for t in timings if t.max_ms is not None]
    return Timing(
        mean_ms=statistics.fmean(t.mean_ms for t in timings),
        median_ms=statistics.median(t.typical_ms for t in timings),
        std_ms=max(t.std_ms for t in timings),
        count=sum(t.count for t in timings),
        min_ms=min(mins) if mins else None,
        max_ms=max(maxes) if maxes else None,
    )


def measure_files(runner: Runner, paths: Sequence[str | Path], passes: int = 1) -> list[Timing]:
    """Times every file `passes` times, all files in turn per pass; one timing per file."""
    if passes < 1:
        raise MeasureError(f"--passes={passes}: expected an integer >= 1")
    per_file: list[list[Timing]] = [[] for _ in paths]
    for _ in range(passes):
        for timings, path in zip(per_file, paths, strict=True):
            timings.append(measure_file(runner, path))
    return [combine_passes(timings) for timings in per_file]


def main(argv: list[str]) -> int:
    """Measures the models named on the command line; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS
    if len(argv) < 2:
        print("error: give at least one MODEL.tflite; see --help", file=sys.stderr)
        return 2
    paths = argv[1:]

    def body() -> int:
        runner = runner_from_flags(flag_values)
        try:
            timings = measure_files(runner, paths, flag_values.passes)
        finally:
            runner.close()
        for path, timing in zip(paths, timings, strict=True):
            result: dict[str, Any] = {
                **dataclasses.asdict(timing),
                "device": runner.device,
                "model": path,
            }
            if flag_values.json:
                print(json.dumps(result))
            else:
                median = "n/a" if timing.median_ms is None else f"{timing.median_ms:.3f}"
                print(
                    f"{path} on {runner.device}: mean {timing.mean_ms:.3f} ms, median "
                    f"{median} ms, std {timing.std_ms:.3f} ms over {timing.count} runs"
                )
        return 0

    return run_command(argv[:1], body)


if __name__ == "__main__":
    from absl import app, flags

    from tflite_bench.device_flags import define_device_flags

    define_device_flags()
    flags.DEFINE_bool("json", False, "Print one JSON object per model.")
    flags.DEFINE_integer("passes", 1, "Time all models this many times in turn (median).")
    app.run(lambda argv: sys.exit(main(argv)))
