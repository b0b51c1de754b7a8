"""`python -m tflite_bench.validate`: does a table's sum of blocks predict whole networks?

    python -m tflite_bench.validate --table=TABLE.json --device=host \
        --space=proxyless_imagenet --resolution=224 --archs=30 [--seed=0] \
        [--plot=scatter.png] [--results=validate.json] [--calibrate] [--json]

Samples `--archs` random architectures of the space (each choice block's op
uniformly), measures each whole network end to end on the device, converted
as deployment converts it (`--passes` times, in passes over all of them; the
median counts), and compares with the table's prediction, the sum
of the network's entries. Every key must be in the table: this checks the
table, not a cost model. Prints the root mean square error, the mean and
largest absolute percentage error and the share within ±10%; `--json` prints
them as one object (`rmse_ms`, `mape`, `max_ape`, `within_10pct`, errors as
fractions). `--plot` writes the scatter plot (predicted vs measured, y = x).

`--calibrate` fits measured ≈ scale * sum + offset by least squares on these
architectures and stores it in the table's metadata; targets built on the
table then apply it (`tfnas.latency.model.TableModel`). The figures after
calibration are in-sample, and reported as such; a later run on a table that
holds a calibration also reports the figures with it
(`with_stored_calibration`), out of sample when `--seed` differs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tflite_bench.build_table import load_space
from tflite_bench.device_flags import runner_from_flags
from tflite_bench.key_models import KINDS, flatbuffer_for_timing, net_model
from tflite_bench.refresh import foreign_device_warning
from tflite_bench.runners import Runner
from tfnas.engine.command import run_command
from tfnas.errors import UserError
from tfnas.io.atomic import write_text_atomic
from tfnas.latency.keys import spec_parts
from tfnas.latency.table import LatencyTable, load_table, save_table, today
from tfnas.nets.spec import SearchSpace
from tfnas.plots import plot_predicted_vs_measured


class ValidationError(UserError, ValueError):
    """A table that cannot be validated against a space; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One sampled architecture: its choices, the table's sum and the measured latency (ms)."""

    choices: tuple[int, ...]
    predicted_ms: float
    measured_ms: float


def sample_architectures(space: SearchSpace, count: int, seed: int) -> list[tuple[int, ...]]:
    """`count` distinct architectures, each choice block's candidate drawn uniformly."""
    sizes = [len(block.candidates) for block in space.choice_blocks]
    if count > math.prod(sizes):
        raise ValidationError(f"--archs={count}: the space has only {math.prod(sizes)}")
    rng = np.random.default_rng(seed)
    found: dict[tuple[int, ...], None] = {}
    while len(found) < count:
        found[tuple(int(rng.integers(size)) for size in sizes)] = None
    return list(found)


def table_sum(table: LatencyTable, space: SearchSpace, choices: Sequence[int]) -> float:
    """The sum of the table's entries over the network `choices` selects (Zero costs 0).

    Raises:
        ValidationError: The table lacks one of its keys.
    """
    spec = space.select(choices)
    total = 0.0
    for part in spec_parts(spec):
        key = part.keys[0]
        if key is None:
            continue
        entry = table.get(key)
        if entry is None:
            raise ValidationError(
                f"the table has no entry for {key}; measure the space first: python -m "
                f"tflite_bench.build_table --space={space.name} --resolution={space.resolution} "
                "--out=TABLE.json"
            )
        total += entry.typical
    return total


def figures(comparisons: Sequence[Comparison], scale: float = 1.0, offset: float = 0.0) -> dict:
    """RMSE (ms), mean and largest absolute percentage error, share within ±10%."""
    predicted = np.array([scale * c.predicted_ms + offset for c in comparisons])
    measured = np.array([c.measured_ms for c in comparisons])
    ape = np.abs(predicted - measured) / measured
    return {
        "count": len(comparisons),
        "rmse_ms": float(np.sqrt(np.mean((predicted - measured) ** 2))),
        "mape": float(ape.mean()),
        "max_ape": float(ape.max()),
        "within_10pct": float((ape <= 0.10).mean()),
        "mean_signed_error": float(((predicted - measured) / measured).mean()),
    }


def fit_calibration(comparisons: Sequence[Comparison]) -> tuple[float, float]:
    """(scale, offset_ms) of the least-squares line measured ≈ scale * sum + offset."""
    if len(comparisons) < 2:
        raise ValidationError("--calibrate needs at least 2 architectures")
    x = np.array([c.predicted_ms for c in comparisons])
    y = np.array([c.measured_ms for c in comparisons])
    scale, offset = np.polyfit(x, y, 1)
    if not scale > 0:
        raise ValidationError(f"the fitted scale {scale:.3g} is not positive; measure more archs")
    return float(scale), float(offset)


def validate(
    runner: Runner,
    table: LatencyTable,
    space: SearchSpace,
    count: int,
    seed: int = 0,
    precision: str = "float32",
    passes: int = 3,
    log: Callable[[str], None] | None = None,
) -> list[Comparison]:
    """Measures `count` random architectures of `space` and pairs them with the table's sums.

    Each architecture is measured `passes` times, in passes over all of them,
    and its figure is the median: a burst of load on a shared machine (which
    only ever slows a run) then spoils one pass of a network, not its figure.
    """
    if precision not in KINDS:
        raise ValidationError(f"--precision={precision}: expected one of {', '.join(KINDS)}")
    if count < 1:
        raise ValidationError(f"--archs={count}: expected an integer >= 1")
    if passes < 1:
        raise ValidationError(f"--passes={passes}: expected an integer >= 1")
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    samples = sample_architectures(space, count, seed)
    sums = [table_sum(table, space, choices) for choices in samples]  # fails before measuring
    log(f"converting {count} networks")
    flatbuffers = [
        flatbuffer_for_timing(net_model(space.select(choices)), precision) for choices in samples
    ]
    figures_ms: list[list[float]] = [[] for _ in samples]
    began = time.monotonic()
    total = passes * count
    for round_ in range(passes):
        for index, flatbuffer in enumerate(flatbuffers):
            timing = runner.time(flatbuffer, f"architecture {index + 1}")
            figures_ms[index].append(timing.typical_ms)
            done = round_ * count + index + 1
            error = (sums[index] - timing.typical_ms) / timing.typical_ms
            left = (time.monotonic() - began) / done * (total - done)
            log(
                f"[pass {round_ + 1}/{passes}, {index + 1}/{count}] measured "
                f"{timing.typical_ms:8.2f} ms, table sum {sums[index]:8.2f} ms "
                f"({100 * error:+.1f}%)  ({left:.0f} s left)"
            )
    return [
        Comparison(choices, predicted, statistics.median(measured))
        for choices, predicted, measured in zip(samples, sums, figures_ms, strict=True)
    ]


def calibrate_table(
    path: str | Path, table: LatencyTable, comparisons: Sequence[Comparison], space: SearchSpace
) -> dict[str, Any]:
    """Fits the calibration to `comparisons` and stores it in the table at `path`; returns it."""
    scale, offset = fit_calibration(comparisons)
    calibration = {
        "scale": scale,
        "offset_ms": offset,
        "archs": len(comparisons),
        "space": space.name,
        "resolution": space.resolution,
        "date": today(),
    }
    calibrated = dataclasses.replace(table.metadata, calibration=calibration)
    save_table(LatencyTable(calibrated, table.entries), path)
    return calibration


def report(
    comparisons: Sequence[Comparison], table: LatencyTable, space: SearchSpace, table_path: str
) -> dict[str, Any]:
    """The figures and the setting they were measured in, JSON-ready."""
    return {
        "table": table_path,
        "device": table.metadata.device,
        "space": space.name,
        "resolution": space.resolution,
        "date": today(),
        **figures(comparisons),
        "architectures": [dataclasses.asdict(c) for c in comparisons],
    }


def main(argv: list[str]) -> int:
    """Runs the validation the flags describe; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS

    def body() -> int:
        if not flag_values.table:
            raise ValidationError("--table is required: the table to validate")
        table = load_table(flag_values.table)
        space = load_space(
            flag_values.space, flag_values.resolution, flag_values.width_mult, flag_values.channels
        )
        runner = runner_from_flags(flag_values)
        warning = foreign_device_warning(flag_values.table, runner.device, flag_values.device)
        if warning:
            print(warning, file=sys.stderr)
        try:
            comparisons = validate(
                runner,
                table,
                space,
                flag_values.archs,
                flag_values.seed,
                flag_values.precision,
                flag_values.passes,
            )
        finally:
            runner.close()
        result = report(comparisons, table, space, flag_values.table)
        stored = table.metadata.calibration
        if stored is not None:
            # Out of sample when these architectures are not the ones it was fitted on.
            result["with_stored_calibration"] = figures(
                comparisons, stored["scale"], stored["offset_ms"]
            )
        if flag_values.calibrate:
            calibration = calibrate_table(flag_values.table, table, comparisons, space)
            scale, offset = calibration["scale"], calibration["offset_ms"]
            result["calibration"] = calibration
            result["calibrated_in_sample"] = figures(comparisons, scale, offset)
        if flag_values.plot:
            title = (
                f"{space.name} at {space.resolution} px on {table.metadata.device}: "
                f"MAPE {100 * result['mape']:.1f}%, {100 * result['within_10pct']:.0f}% "
                "within ±10%"
            )
            plot_predicted_vs_measured(
                [c.predicted_ms for c in comparisons],
                [c.measured_ms for c in comparisons],
                flag_values.plot,
                title,
            )
        if flag_values.results:
            write_text_atomic(flag_values.results, json.dumps(result, indent=2) + "\n")
        summary = {k: v for k, v in result.items() if k != "architectures"}
        if flag_values.json:
            print(json.dumps(summary))
        else:
            print(
                f"{len(comparisons)} architectures of {space.name} at {space.resolution} px: "
                f"RMSE {result['rmse_ms']:.3f} ms, MAPE {100 * result['mape']:.2f}%, "
                f"max {100 * result['max_ape']:.1f}%, {100 * result['within_10pct']:.0f}% "
                "within ±10%"
            )
            if stored is not None:
                calibrated = result["with_stored_calibration"]
                print(
                    f"with the table's stored calibration: RMSE {calibrated['rmse_ms']:.3f} ms, "
                    f"MAPE {100 * calibrated['mape']:.2f}%, max {100 * calibrated['max_ape']:.1f}%"
                )
            if flag_values.calibrate:
                after = result["calibrated_in_sample"]
                print(
                    f"calibration stored in {flag_values.table}: measured = {scale:.4f} x sum "
                    f"{offset:+.3f} ms; in-sample MAPE {100 * after['mape']:.2f}%"
                )
        return 0

    return run_command(argv, body)


if __name__ == "__main__":
    from absl import app, flags

    from tflite_bench.device_flags import define_device_flags

    define_device_flags()
    flags.DEFINE_string("table", None, "The table to validate (project JSON).")
    flags.DEFINE_string("space", "proxyless_imagenet", "The search space to sample from.")
    flags.DEFINE_integer("resolution", None, "Input resolution; default the space's.")
    flags.DEFINE_float("width_mult", 1.0, "Width multiplier of a registered space.")
    flags.DEFINE_integer("channels", None, "Image channels (1: grayscale); default the space's.")
    flags.DEFINE_integer("archs", 30, "Random architectures to measure.")
    flags.DEFINE_integer("seed", 0, "Seed of the sampled architectures.")
    flags.DEFINE_integer("passes", 3, "Measurements of each network (median), in passes.")
    flags.DEFINE_enum("precision", "float32", list(KINDS), "How the networks are converted.")
    flags.DEFINE_string("plot", None, "Write the scatter plot PNG here.")
    flags.DEFINE_string("results", None, "Write the figures and every architecture as JSON here.")
    flags.DEFINE_bool("calibrate", False, "Fit and store a linear calibration of the sums.")
    flags.DEFINE_bool("json", False, "Print the figures as one JSON object.")
    app.run(lambda argv: sys.exit(main(argv)))
