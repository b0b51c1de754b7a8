"""`python -m tflite_bench.build_table`: measure every key of a search space into a latency table.

    python -m tflite_bench.build_table --space=proxyless_imagenet --resolution=224 \
        --device=host --out=TABLE.json [--precision=float32|int8] [--width_mult=1.0]

Each key of the space (stem, every candidate of every choice block, feature
mix, classifier; at each `--resolution`) becomes a small TFLite model
(`tflite_bench.key_models`) timed on the device, one line of progress each.

- Progress is saved after every key to `TABLE.json.partial`; running the same
  command again resumes from it (and refuses a partial table of another
  device or precision).
- When TABLE.json exists, the new measurements replace its entries of the
  same keys, its other entries stay, and its earlier round is appended to
  `metadata.history`. A calibration stored by `validate --calibrate` is
  dropped, since it was fitted to the old entries.
- The table is written atomically at the end; the partial file is removed.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tflite_bench.device_flags import runner_from_flags
from tflite_bench.key_models import KINDS, key_flatbuffer, space_keys
from tflite_bench.runners import Runner
from tfnas.engine.command import run_command
from tfnas.errors import UserError
from tfnas.latency.keys import LayerKey
from tfnas.latency.table import LatencyTable, Measurement, load_table, save_table
from tfnas.nets.load import load_net_or_space
from tfnas.nets.registry import SPACES
from tfnas.nets.spec import SearchSpace

PARTIAL_SUFFIX = ".partial"


class TableBuildError(UserError, ValueError):
    """Options or files that cannot make a table; the message says what to do."""


def load_space(
    name: str, resolution: int | None, width_mult: float = 1.0, channels: int | None = None
) -> SearchSpace:
    """A search space by registered name or file, at a resolution, width and input channels.

    `channels`: the images' channels (1 for grayscale data such as Fashion-MNIST,
    whose networks keep one input channel); None keeps the space's own.
    """
    if width_mult <= 0:
        raise TableBuildError(f"--width_mult={width_mult}: expected a number > 0")
    if channels is not None and channels < 1:
        raise TableBuildError(f"--channels={channels}: expected an integer >= 1")
    if name in SPACES:
        space = SPACES.get(name, width_mult=width_mult)
        space = space.with_resolution(resolution) if resolution else space
        return dataclasses.replace(space, in_channels=channels) if channels else space
    if width_mult != 1.0:
        raise TableBuildError(
            f"--width_mult={width_mult} applies to registered spaces only; {name!r} is a file"
        )
    space = load_net_or_space(name, resolution)
    if not isinstance(space, SearchSpace):
        raise TableBuildError(f"--space={name}: a network, not a search space")
    return dataclasses.replace(space, in_channels=channels) if channels else space


def keys_of(spaces: Sequence[SearchSpace]) -> list[LayerKey]:
    """The distinct keys of several spaces, in order."""
    return list(dict.fromkeys(key for space in spaces for key in space_keys(space)))


def refreshed(old: LatencyTable, new: LatencyTable) -> LatencyTable:
    """`old` with `new`'s entries replacing its own; `old`'s round goes into the history.

    Raises:
        TableBuildError: The tables come from different devices or precisions.
    """
    for field in ("device", "precision", "threads", "delegate"):
        before, after = getattr(old.metadata, field), getattr(new.metadata, field)
        if before != after:
            raise TableBuildError(
                f"the existing table was measured with {field} {before!r}, these measurements "
                f"with {after!r}; write them to another --out"
            )
    round_ = {
        "date": old.metadata.date,
        "tool": old.metadata.tool,
        "runtime_version": old.metadata.runtime_version,
        "source": old.metadata.source,
        "entries": len(old),
        "replaced": sum(1 for key in new if key in old),
    }
    metadata = dataclasses.replace(
        new.metadata, history=(*old.metadata.history, round_), calibration=None
    )
    return LatencyTable(metadata, {**old.entries, **new.entries})


def _resumed(partial: Path, runner: Runner, precision: str) -> dict[LayerKey, Measurement]:
    if not partial.exists():
        return {}
    table = load_table(partial)
    expected = runner.metadata(precision)
    for field in ("device", "precision", "threads", "delegate"):
        if getattr(table.metadata, field) != getattr(expected, field):
            raise TableBuildError(
                f"{partial} holds measurements with {field} "
                f"{getattr(table.metadata, field)!r}, not {getattr(expected, field)!r}; "
                "delete it to start over, or use another --out"
            )
    return dict(table.entries)


def build_table(
    runner: Runner,
    keys: Sequence[LayerKey],
    out: str | Path,
    precision: str = "float32",
    log: Callable[[str], None] | None = None,
    flatbuffer_of: Callable[[LayerKey, str], bytes] = key_flatbuffer,
) -> LatencyTable:
    """Measures `keys` with `runner` into the table at `out` (resuming, refreshing).

    Args:
        runner: The device.
        keys: What to measure.
        out: The table file.
        precision: `float32` or `int8` key models.
        log: Where progress lines go (default: stderr).
        flatbuffer_of: Makes the model of a key (`key_models.key_flatbuffer`).

    Returns:
        The table written.
    """
    if precision not in KINDS:
        raise TableBuildError(f"--precision={precision}: expected one of {', '.join(KINDS)}")
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    out = Path(out)
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    measured = _resumed(partial, runner, precision)
    todo = [key for key in keys if key not in measured]
    if measured:
        log(f"resuming {partial}: {len(keys) - len(todo)} of {len(keys)} keys measured")
    metadata = runner.metadata(precision)
    began = time.monotonic()
    for done, key in enumerate(todo, 1):
        timing = runner.time(flatbuffer_of(key, precision), str(key))
        measured[key] = timing.measurement()
        save_table(LatencyTable(metadata, measured), partial)
        left = (time.monotonic() - began) / done * (len(todo) - done)
        log(f"[{done}/{len(todo)}] {timing.typical_ms:9.3f} ms  {key}  ({left:.0f} s left)")
    table = LatencyTable(metadata, {key: measured[key] for key in keys})
    if out.exists():
        table = refreshed(load_table(out), table)
    save_table(table, out)
    partial.unlink(missing_ok=True)
    return table


def main(argv: list[str]) -> int:
    """Builds the table the flags describe; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS

    def body() -> int:
        if not flag_values.out:
            raise TableBuildError("--out is required: the table file to write (.json)")
        spaces = [
            load_space(name, resolution, flag_values.width_mult, flag_values.channels)
            for name in flag_values.space
            for resolution in flag_values.resolution or [None]
        ]
        keys = keys_of(spaces)
        runner = runner_from_flags(flag_values)
        try:
            print(f"measuring {len(keys)} keys on {runner.device} ({flag_values.precision})")
            table = build_table(runner, keys, flag_values.out, flag_values.precision)
        finally:
            runner.close()
        print(f"wrote {len(table)} entries to {flag_values.out}")
        return 0

    return run_command(argv, body)


if __name__ == "__main__":
    from absl import app, flags

    from tflite_bench.device_flags import define_device_flags

    define_device_flags()
    flags.DEFINE_multi_string("space", ["proxyless_imagenet"], "Search space(s) to measure.")
    flags.DEFINE_multi_integer("resolution", None, "Input resolution(s); default each space's.")
    flags.DEFINE_float("width_mult", 1.0, "Width multiplier of registered spaces.")
    flags.DEFINE_integer("channels", None, "Image channels (1: grayscale); default the space's.")
    flags.DEFINE_enum("precision", "float32", list(KINDS), "How the key models are converted.")
    flags.DEFINE_string("out", None, "The table to write (project JSON).")
    app.run(lambda argv: sys.exit(main(argv)))
