"""`python -m tflite_bench.refresh`: a deployed network's measurements into its device's table.

    python -m tflite_bench.refresh --table=TABLE.json --arch=ARCH.json \
        --device=host|adb[:SERIAL] [--base=cpu] [--remeasure] [--precision=float32]

Measures on the device each part of the network (its latency-table keys)
that the table lacks (all of them with `--remeasure`), then the whole
network end to end, converted as deployment converts it. Writes the parts
into the table (replacing entries; each refresh appends a round to
`metadata.history`), keeps the whole-network measurement in
`metadata.networks` (its keys, resolution, measured ms and the table's
prediction before), and refits the table's calibration on every network
measured so far (`tfnas.latency.adapt.fit_calibration`). Prints the
prediction before, the measurement and the prediction after.

When TABLE.json does not exist, it is started for this device from
`--base`, another device's latency model (`cpu`, `mobile` or a file): keys
the table lacks are predicted by the base, rescaled per group of keys by
what this device measured (`tfnas.latency.adapt`). The table is saved after
every measured key: a device that disconnects leaves what was measured, and
running the same command again measures only the rest.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tflite_bench.device_flags import runner_from_flags
from tflite_bench.key_models import KINDS, flatbuffer_for_timing, key_flatbuffer, net_model
from tflite_bench.runners import Runner
from tfnas.engine.command import run_command
from tfnas.errors import UserError
from tfnas.latency.adapt import fit_calibration, network_sum, uncalibrated
from tfnas.latency.keys import LayerKey, spec_parts
from tfnas.latency.model import net_latency
from tfnas.latency.table import LatencyTable, TableMetadata, load_table, save_table, today
from tfnas.latency.targets import load_target, table_model, target_device
from tfnas.nets.load import load_net
from tfnas.nets.spec import NetSpec

DEFAULT_BASE = "cpu"
# The whole network is timed this many times (a fresh interpreter each) and the
# median kept: on a 2-core VM, single timings of a 0.06-0.2 ms network spread up
# to ±8% (docs/device-loop.md), more than a ±5% target allows.
DEFAULT_PASSES = 5
SAME_SETUP = ("device", "precision", "threads", "delegate")


class RefreshError(UserError, ValueError):
    """A table that this device's measurements cannot go into; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class Refresh:
    """What one refresh did.

    Attributes:
        name: The network.
        predicted_before: The table's prediction of it before (ms).
        timings: Each end-to-end timing of it on the device (ms).
        predicted_after: The refreshed table's prediction (ms).
        measured_keys: The keys measured this time.
        table: The refreshed table.
    """

    name: str
    predicted_before: float
    timings: tuple[float, ...]
    predicted_after: float
    measured_keys: tuple[LayerKey, ...]
    table: LatencyTable

    @property
    def measured(self) -> float:
        """Its end-to-end latency on the device (ms): the median of the timings."""
        return statistics.median(self.timings)

    @property
    def spread(self) -> float:
        """Half the range of the timings, as a fraction of their median."""
        return (max(self.timings) - min(self.timings)) / 2 / self.measured


def foreign_device_warning(target: str, device: str, device_flag: str = "host") -> str | None:
    """A one-line warning when `target` was measured on a device other than `device`; else None.

    Args:
        target: A latency target (`cpu`, `mobile`, a table or cost-model file).
        device: The device about to be measured (the runner's `device`).
        device_flag: Its `--device` value, for the command the warning suggests.
    """
    measured_on = target_device(load_target(target))
    if measured_on is None or measured_on == device:
        return None
    return (
        f"warning: the latency target {target} was measured on {measured_on}, not on this "
        f"device ({device}); adapt it: python -m tflite_bench.refresh "
        f"--table=DEVICE_TABLE.json --base={target} --arch=ARCH.json --device={device_flag}"
    )


def network_keys(spec: NetSpec) -> list[LayerKey]:
    """The keys of a network's parts, in order (a skipped block has none)."""
    return [part.keys[0] for part in spec_parts(spec) if part.keys[0] is not None]


def open_table(path: Path, metadata: TableMetadata, base: str | None) -> LatencyTable:
    """The device's table at `path`, or a new one for this device on top of `base`.

    Raises:
        RefreshError: The table was measured with another device or setup, or
            there is no table and no base to start one from.
    """
    if path.exists():
        table = load_table(path)
        for field in SAME_SETUP:
            mine, theirs = getattr(table.metadata, field), getattr(metadata, field)
            if mine != theirs:
                raise RefreshError(
                    f"{path} was measured with {field} {mine!r}, this runner has {theirs!r}; "
                    f"start this device's own table from it: --table=NEW.json --base={path}"
                )
        return table
    if not base:
        raise RefreshError(
            f"{path} does not exist and --base is empty: name the target to start from"
        )
    load_target(base)  # an unknown base fails before anything is measured
    return LatencyTable(
        dataclasses.replace(
            metadata, base_target=base, source=f"adapted from {base}: {metadata.source}"
        ),
        {},
    )


def refresh(
    runner: Runner,
    spec: NetSpec,
    table_path: str | Path,
    name: str,
    base: str | None = DEFAULT_BASE,
    precision: str = "float32",
    remeasure: bool = False,
    passes: int = DEFAULT_PASSES,
    log: Callable[[str], None] | None = None,
    flatbuffer_of: Callable[[LayerKey, str], bytes] = key_flatbuffer,
    network_flatbuffer: Callable[[NetSpec, str], bytes] | None = None,
) -> Refresh:
    """Measures `spec`'s parts and the whole of it on `runner` into the table at `table_path`.

    Args:
        runner: The device.
        spec: The deployed network.
        table_path: The device's table (created from `base` when missing).
        name: The network's name in the table's records.
        base: The target a new table starts from.
        precision: `float32` or `int8` models.
        remeasure: Measure every part again, not only those the table lacks.
        passes: Time the whole network this many times; the median is recorded.
        log: Where progress lines go (default: stderr).
        flatbuffer_of: Makes the model of a key (`key_models.key_flatbuffer`).
        network_flatbuffer: Makes the model of the whole network (default:
            converted as deployment converts it, `key_models.flatbuffer_for_timing`).

    Raises:
        RefreshError: See `open_table`.
        DeviceError: The device failed; every key measured before is in the table.
    """
    if precision not in KINDS:
        raise RefreshError(f"--precision={precision}: expected one of {', '.join(KINDS)}")
    if passes < 1:
        raise RefreshError(f"--passes={passes}: expected an integer >= 1")
    log = log or _stderr
    path = Path(table_path)
    table = open_table(path, runner.metadata(precision), base)
    predicted_before = net_latency(table_model(path.name, table), spec).total
    keys = list(dict.fromkeys(network_keys(spec)))
    todo = measure_parts(
        runner,
        keys,
        path,
        base=base,
        precision=precision,
        remeasure=remeasure,
        log=log,
        flatbuffer_of=flatbuffer_of,
    )
    table = load_table(path) if todo else table
    network_flatbuffer = network_flatbuffer or deployed_flatbuffer
    timings = time_whole(runner, network_flatbuffer(spec, precision), name, passes, log)
    table = _recorded(table, spec, name, timings, predicted_before, replaced=len(todo))
    save_table(table, path)
    predicted_after = net_latency(table_model(path.name, table), spec).total
    return Refresh(name, predicted_before, timings, predicted_after, todo, table)


def measure_parts(
    runner: Runner,
    keys: Sequence[LayerKey],
    table_path: str | Path,
    base: str | None = DEFAULT_BASE,
    precision: str = "float32",
    remeasure: bool = False,
    log: Callable[[str], None] | None = None,
    flatbuffer_of: Callable[[LayerKey, str], bytes] = key_flatbuffer,
) -> tuple[LayerKey, ...]:
    """Measures the `keys` the table at `table_path` lacks (all with `remeasure`); returns them.

    The table (created from `base` when missing) is saved after every key,
    so a device that goes away leaves what was measured. Its calibration and
    records of whole networks stay as they are.

    Raises:
        RefreshError: See `open_table`.
        DeviceError: The device failed; every key measured before is in the table.
    """
    if precision not in KINDS:
        raise RefreshError(f"--precision={precision}: expected one of {', '.join(KINDS)}")
    log = log or _stderr
    path = Path(table_path)
    table = open_table(path, runner.metadata(precision), base)
    unique = list(dict.fromkeys(keys))
    todo = unique if remeasure else [key for key in unique if key not in table]
    entries = dict(table.entries)
    began = time.monotonic()
    for done, key in enumerate(todo, 1):
        timing = runner.time(flatbuffer_of(key, precision), str(key))
        entries[key] = timing.measurement()
        table = dataclasses.replace(table, entries=entries.copy())
        save_table(table, path)  # what was measured survives a device that goes away
        left = (time.monotonic() - began) / done * (len(todo) - done)
        log(f"[{done}/{len(todo)}] {timing.typical_ms:9.3f} ms  {key}  ({left:.0f} s left)")
    return tuple(todo)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def time_whole(
    runner: Runner,
    flatbuffer: bytes,
    name: str,
    passes: int,
    log: Callable[[str], None] | None = None,
) -> tuple[float, ...]:
    """`passes` timings (ms) of a whole network on `runner`; logs their median and range."""
    timings = tuple(runner.time(flatbuffer, name).typical_ms for _ in range(passes))
    (log or _stderr)(
        f"whole network {name}: {statistics.median(timings):.3f} ms (median of {passes}: "
        f"{min(timings):.3f} to {max(timings):.3f})"
    )
    return timings


def deployed_flatbuffer(spec: NetSpec, precision: str = "float32") -> bytes:
    """`spec` as a TFLite model converted as deployment converts it, to time it whole."""
    return flatbuffer_for_timing(net_model(spec), precision)


def _recorded(
    table: LatencyTable,
    spec: NetSpec,
    name: str,
    timings: tuple[float, ...],
    predicted: float,
    replaced: int,
) -> LatencyTable:
    """`table` with the network's measurement, a history round and the refitted calibration."""
    record = {
        "name": name,
        "keys": [str(key) for key in network_keys(spec)],
        "resolution": spec.resolution,
        "measured_ms": statistics.median(timings),
        "timings_ms": list(timings),
        "predicted_ms": predicted,
        "date": today(),
    }
    networks = (*table.metadata.networks, record)
    # The calibration is fitted at the resolution of the latest network, to all
    # networks of that resolution, on the parts as they are now.
    same_size = [n for n in networks if n["resolution"] == spec.resolution]
    parts = table_model("parts", uncalibrated(table))
    calibration = fit_calibration(
        [network_sum(parts, n["keys"]) for n in same_size],
        [n["measured_ms"] for n in same_size],
        spec.resolution,
        today(),
    )
    round_ = {
        "date": today(),
        "tool": table.metadata.tool,
        "network": name,
        "entries": len(table),
        "replaced": replaced,
    }
    metadata = dataclasses.replace(
        table.metadata,
        networks=networks,
        calibration=calibration,
        history=(*table.metadata.history, round_),
        date=today(),
    )
    return dataclasses.replace(table, metadata=metadata)


def main(argv: list[str]) -> int:
    """Refreshes the table the flags name; returns the exit status."""
    from absl import flags

    values = flags.FLAGS

    def body() -> int:
        for flag in ("table", "arch"):
            if not values[flag].value:
                raise RefreshError(f"--{flag} is required")
        spec = load_net(values.arch)
        runner = runner_from_flags(values)
        try:
            result = refresh(
                runner,
                spec,
                values.table,
                name=Path(values.arch).stem,
                base=values.base,
                precision=values.precision,
                remeasure=values.remeasure,
                passes=values.passes,
            )
        finally:
            runner.close()
        print(
            f"{result.name} on {runner.device}: predicted {result.predicted_before:.3f} ms "
            f"before, measured {result.measured:.3f} ms, predicted {result.predicted_after:.3f} "
            f"ms after ({len(result.measured_keys)} parts measured); table {values.table}"
        )
        return 0

    return run_command(argv, body)


if __name__ == "__main__":
    from absl import app, flags

    from tflite_bench.device_flags import define_device_flags

    define_device_flags()
    flags.DEFINE_string("table", None, "This device's table (created when missing).")
    flags.DEFINE_string("arch", None, "The deployed network (arch.json or net.config).")
    flags.DEFINE_string(
        "base", DEFAULT_BASE, "What a new table starts from: cpu, mobile or a file."
    )
    flags.DEFINE_bool("remeasure", False, "Measure every part again, not only the missing ones.")
    flags.DEFINE_enum("precision", "float32", list(KINDS), "How the models are converted.")
    flags.DEFINE_integer(
        "passes", DEFAULT_PASSES, "Time the whole network this many times (the median counts)."
    )
    app.run(lambda argv: sys.exit(main(argv)))
