"""A latency table for a device that has none: another device's model, rescaled by this one's.

A new device starts with no measured entries and a base: the latency model
of another device (the shipped `cpu` or `mobile` target, or a file). Its
table (`metadata.base_target` set) answers a key with

1. the device's own measurement, when the table has the key;
2. otherwise the base's latency of the key times the scale of its group:
   the geometric mean of measured / base over the device's measured keys of
   that group. Groups go from the most specific to all keys,
   `expanded_conv-k7-e6` -> `expanded_conv-k7` -> `expanded_conv` -> `all`,
   and a key takes the first group with a measurement. So a device that runs
   7x7 depthwise convolutions three times slower than the base's device
   learns that from one measured 7x7 block, while the rest keeps the
   device-wide ratio: one global factor cannot do that.

Whole networks measured end to end (`metadata.networks`) refit the table's
calibration, the map from a network's sum of parts to what the device
measures (`fit_calibration`): the interpreter's per-network overhead, and
what timing parts one by one misses. `tflite_bench.refresh` measures; this
module only computes, so that searches read the same model it fitted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfnas.latency.keys import EXPANDED_CONV, LayerKey, parse_key
from tfnas.latency.model import LatencyModel, LayerLatency, calibrated
from tfnas.latency.table import LatencyTable, Measurement

ALL = "all"
# Below this many networks, or when their sums differ by less than this share, a
# line through them would fit noise: the calibration is an offset only.
MIN_NETWORKS_FOR_LINE = 3
MIN_SPREAD_FOR_LINE = 0.10


def key_groups(key: LayerKey) -> tuple[str, ...]:
    """The groups a key's scale may come from, the most specific first."""
    if key.kind == EXPANDED_CONV:
        kernel = f"{key.kind}-k{key.kernel}"
        return (f"{kernel}-e{key.expand}", kernel, key.kind, ALL)
    return (key.kind, ALL)


@dataclasses.dataclass(frozen=True)
class GroupScale:
    """How much slower (> 1) or faster this device runs a group of keys than the base.

    Attributes:
        scale: Geometric mean of measured / base over the group's measured keys.
        count: How many measured keys it comes from.
    """

    scale: float
    count: int


def fit_scales(
    entries: Mapping[LayerKey, Measurement], base: LatencyModel
) -> dict[str, GroupScale]:
    """Per group, this device's measurements against the base's latency of the same keys."""
    logs: dict[str, list[float]] = {}
    for key, measurement in entries.items():
        ratio = measurement.typical / base.latency(key).value
        for group in key_groups(key):
            logs.setdefault(group, []).append(math.log(ratio))
    return {
        group: GroupScale(math.exp(sum(values) / len(values)), len(values))
        for group, values in logs.items()
    }


def scale_of(key: LayerKey, scales: Mapping[str, GroupScale]) -> float:
    """The scale of the most specific group of `key` that has one; 1 when nothing is measured."""
    for group in key_groups(key):
        if group in scales:
            return scales[group].scale
    return 1.0


@dataclasses.dataclass(frozen=True)
class AdaptedModel:
    """A device's own measurements, and another device's model rescaled for the rest.

    Attributes:
        name: The target's name in reports.
        table: The device's table (its entries, networks and calibration).
        base: The other device's model.
        scales: Fitted by `fit_scales` from the table's entries.
        unit: Always `ms`.
    """

    name: str
    table: LatencyTable
    base: LatencyModel
    scales: Mapping[str, GroupScale]
    unit: str = "ms"

    @classmethod
    def of(cls, name: str, table: LatencyTable, base: LatencyModel) -> AdaptedModel:
        """The model of `table` on top of `base`, with the scales fitted to its entries."""
        return cls(name, table, base, fit_scales(table.entries, base))

    def latency(self, key: LayerKey) -> LayerLatency:
        """The measured latency of `key`, or the base's times the scale of its group."""
        measured = self.table.get(key)
        if measured is not None:
            return LayerLatency(calibrated(self.table, key, measured.typical), "measured")
        value = self.base.latency(key).value * scale_of(key, self.scales)
        return LayerLatency(calibrated(self.table, key, value), "predicted")


def network_sum(model: LatencyModel, keys: Sequence[str]) -> float:
    """The sum of a network's parts (keys as strings) on `model`."""
    return sum(model.latency(parse_key(key)).value for key in keys)


def fit_calibration(
    sums: Sequence[float], measured: Sequence[float], resolution: int, date: str
) -> dict[str, Any] | None:
    """The calibration of whole networks: measured ≈ scale * sum + offset; None for none.

    An offset alone (scale 1) for fewer than `MIN_NETWORKS_FOR_LINE`
    networks, or sums within `MIN_SPREAD_FOR_LINE` of each other, or a line
    that would not rise; a least-squares line otherwise.
    """
    if len(sums) != len(measured):
        raise ValueError(
            f"expected as many sums as measurements, got {len(sums)} and {len(measured)}"
        )
    if not sums:
        return None
    x, y = np.asarray(sums, float), np.asarray(measured, float)
    scale, offset, fit = 1.0, float(np.mean(y - x)), "offset"
    if len(x) >= MIN_NETWORKS_FOR_LINE and np.ptp(x) >= MIN_SPREAD_FOR_LINE * x.mean():
        line_scale, line_offset = np.polyfit(x, y, 1)
        if line_scale > 0:
            scale, offset, fit = float(line_scale), float(line_offset), "line"
    return {
        "scale": scale,
        "offset_ms": offset,
        "resolution": resolution,
        "networks": len(x),
        "fit": fit,
        "date": date,
    }


def uncalibrated(table: LatencyTable) -> LatencyTable:
    """`table` without its calibration: what the parts sum to before it."""
    return dataclasses.replace(
        table, metadata=dataclasses.replace(table.metadata, calibration=None)
    )
