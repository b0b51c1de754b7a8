"""Which network a loop round measures: pure decisions on predicted latencies.

Nothing here searches, measures or reads a file; `tfnas.loop.run` does, and
asks these functions what to do with what it found.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tfnas.latency.model import SpaceLatency
from tfnas.search.constrained import most_likely_within


def on_target(measured: float, target: float, tolerance: float) -> bool:
    """Whether `measured` is within `tolerance` (a fraction) of `target`."""
    return abs(measured - target) <= tolerance * target


@dataclasses.dataclass(frozen=True)
class Pick:
    """The network a round measures.

    Attributes:
        choices: Its candidate per choice block.
        predicted: Its latency on the table the round searched with (ms).
        how: `derived` (the search's own, already in the window) or
            `most likely in the window` (`tfnas.search.constrained`).
    """

    choices: list[int]
    predicted: float
    how: str


def pick_network(searched: Any, latency: SpaceLatency, target: float, tolerance: float) -> Pick:
    """The network a round measures, given the search's outcome and the table's latencies.

    The derived network when its predicted latency is within `tolerance` of
    `target`; else the most likely network (by the search's probabilities)
    that is; else, when none is, the derived one.
    """
    derived = list(searched.choices)
    low, high = target * (1 - tolerance), target * (1 + tolerance)
    if low <= latency.latency_of(derived) <= high:
        return Pick(derived, latency.latency_of(derived), "derived")
    within = most_likely_within(searched.probabilities, latency, low, high)
    if within is None:
        return Pick(derived, latency.latency_of(derived), "derived (nothing in the window)")
    return Pick(within, latency.latency_of(within), "most likely in the window")


__all__ = ["Pick", "on_target", "pick_network"]
