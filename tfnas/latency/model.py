"""Latency of layers, networks and every candidate of a search space, for one target.

A `LatencyModel` answers "how long does this key take": the measured entry
when its table has the key, the cost model's prediction otherwise, and an
error when it has neither (never a made-up constant). `MacsModel` is the
exact `flops` target. `net_latency` and `space_latency` apply a model to a
network or to every candidate of a search space, counting how many parts
were measured and how many predicted.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol

from tfnas.errors import UserError
from tfnas.latency.cost_model import CostModel
from tfnas.latency.features import key_macs
from tfnas.latency.keys import LayerKey, spec_parts
from tfnas.latency.table import LatencyTable
from tfnas.nets.spec import NetSpec, SearchSpace

STEM = "Conv"  # the stem's key kind: once in every network

Source = Literal["measured", "predicted", "exact"]


class MissingLatencyError(UserError, LookupError):
    """A key that the target's table lacks and that no cost model can predict."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclasses.dataclass(frozen=True)
class LayerLatency:
    """The latency of one key and where it came from."""

    value: float
    source: Source


class LatencyModel(Protocol):
    """Anything that gives the latency of a key: `name`, `unit` and `latency(key)`."""

    name: str
    unit: str

    def latency(self, key: LayerKey) -> LayerLatency:
        """The latency of `key` in `unit`."""
        ...


@dataclasses.dataclass(frozen=True)
class TableModel:
    """Measured entries first, the cost model for the rest.

    Attributes:
        name: The target's name in reports.
        table: Measured entries, or None for a pure cost model.
        cost_model: Predicts keys the table lacks, or None to require every key measured.
        unit: Always `ms`.
    """

    name: str
    table: LatencyTable | None
    cost_model: CostModel | None
    unit: str = "ms"

    def latency(self, key: LayerKey) -> LayerLatency:
        """The measured latency of `key`, or the cost model's prediction.

        Raises:
            MissingLatencyError: When the table lacks the key and there is no cost model.
        """
        measured = self.table.get(key) if self.table is not None else None
        if measured is not None:
            return LayerLatency(self._calibrated(key, measured.typical), "measured")
        if self.cost_model is None:
            raise MissingLatencyError(
                f"target {self.name!r} has no entry for {key} and no cost model to predict "
                "it; measure it (python -m tflite_bench.build_table) or use a table with "
                "enough entries to fit a cost model"
            )
        return LayerLatency(self._calibrated(key, self.cost_model.predict(key)), "predicted")

    def _calibrated(self, key: LayerKey, value: float) -> float:
        return calibrated(self.table, key, value)


def calibrated(table: LatencyTable | None, key: LayerKey, value: float) -> float:
    """`value` (the latency of `key`) under the table's calibration of network sums, if any.

    A calibration maps a network's sum of entries S to scale * S + offset.
    Scaling every entry and adding the offset to the stem (`Conv`, once in
    every network) gives exactly that for whole networks, and keeps
    expected latency a weighted sum of entries.

    The offset is added only to networks at the resolution it was fitted
    at (the stem's input tells): fitted at 224 px, the cpu table's 0.62 ms
    is 15 times what a whole 32 px network takes. The scale applies to all.
    """
    calibration = table.metadata.calibration if table is not None else None
    if calibration is None:
        return value
    fitted_at = calibration.get("resolution")
    same_size = fitted_at is None or key.input_shape[0] == fitted_at
    offset = calibration["offset_ms"] if key.kind == STEM and same_size else 0.0
    return calibration["scale"] * value + offset


@dataclasses.dataclass(frozen=True)
class MacsModel:
    """The `flops` target: millions of multiply-accumulates, exact."""

    name: str = "flops"
    unit: str = "MMACs"

    def latency(self, key: LayerKey) -> LayerLatency:
        """MACs of `key` in millions (convolutions and the dense layer)."""
        return LayerLatency(key_macs(key) / 1e6, "exact")


@dataclasses.dataclass(frozen=True)
class PartLatency:
    """One part of a network with its key and latency (0 and no key for a Zero block)."""

    name: str
    key: LayerKey | None
    value: float
    source: Source | None


@dataclasses.dataclass(frozen=True)
class NetLatency:
    """The latency of a network, part by part."""

    target: str
    unit: str
    parts: tuple[PartLatency, ...]

    @property
    def total(self) -> float:
        """Sum over the parts."""
        return sum(part.value for part in self.parts)

    def count(self, source: Source) -> int:
        """How many parts came from `source`."""
        return sum(part.source == source for part in self.parts)


def net_latency(model: LatencyModel, spec: NetSpec) -> NetLatency:
    """The latency of every part of a network, and in total, on `model`'s target."""
    parts = []
    for part in spec_parts(spec):
        (key,) = part.keys
        if key is None:  # Zero: the block is an identity
            parts.append(PartLatency(part.name, None, 0.0, None))
        else:
            result = model.latency(key)
            parts.append(PartLatency(part.name, key, result.value, result.source))
    return NetLatency(model.name, model.unit, tuple(parts))


@dataclasses.dataclass(frozen=True)
class SpaceLatency:
    """The latency of every candidate of every choice block of a search space.

    What expected latency and the latency rewards are computed from.

    Attributes:
        target: The target's name.
        unit: Unit of every value.
        fixed: Latency of everything that is not searched (stem, fixed blocks, head).
        candidates: Per choice block, the latency of each candidate (0 for Zero).
        measured: How many distinct keys came from measurements.
        predicted: How many distinct keys came from the cost model.
    """

    target: str
    unit: str
    fixed: float
    candidates: tuple[tuple[float, ...], ...]
    measured: int
    predicted: int

    def latency_of(self, choices: tuple[int, ...] | list[int]) -> float:
        """The latency of the network that runs candidate `choices[b]` in choice block b."""
        if len(choices) != len(self.candidates):
            raise ValueError(f"expected {len(self.candidates)} choices, got {len(choices)}")
        return self.fixed + sum(c[i] for c, i in zip(self.candidates, choices, strict=True))


def space_latency(model: LatencyModel, space: SearchSpace) -> SpaceLatency:
    """Looks up (or predicts) every candidate of `space` on `model`'s target.

    Raises:
        MissingLatencyError: When a key is neither measured nor predictable.
    """
    sources: dict[LayerKey, Source] = {}

    def lookup(key: LayerKey | None) -> float:
        if key is None:  # Zero: the block is an identity
            return 0.0
        result = model.latency(key)
        sources[key] = result.source
        return result.value

    fixed, candidates = 0.0, []
    for part in spec_parts(space):
        if part.is_choice:
            candidates.append(tuple(lookup(key) for key in part.keys))
        else:
            fixed += lookup(part.keys[0])
    values = list(sources.values())
    return SpaceLatency(
        target=model.name,
        unit=model.unit,
        fixed=fixed,
        candidates=tuple(candidates),
        measured=values.count("measured"),
        predicted=values.count("predicted"),
    )
