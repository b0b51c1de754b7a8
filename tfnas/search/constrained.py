"""The most likely architecture whose latency lies in a window: derivation under a constraint.

A search's derived network is the most likely op of each block (argmax of
alpha). Its latency lands near the target only as closely as the space's
steps allow: 7-12% off on the demo space with an exact latency model
(`benchmarks/results/search_targets.md`). When a deployment needs the
latency within a tolerance, `most_likely_within` picks, among the networks
whose predicted latency lies in [low, high], the one the architecture
distribution finds most likely (largest sum of log-probabilities), exactly,
by dynamic programming over latency in steps of `resolution` (a fraction of
`high`); the window is narrowed by the rounding this can add, so the pick is
inside it on the exact latencies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tfnas.latency.model import SpaceLatency

DEFAULT_RESOLUTION = 1e-4


def most_likely_within(
    probabilities: Sequence[Sequence[float]],
    latency: SpaceLatency,
    low: float,
    high: float,
    resolution: float = DEFAULT_RESOLUTION,
) -> list[int] | None:
    """The choices of largest probability whose latency is in [low, high]; None when none is.

    Args:
        probabilities: Per choice block, the probability of each candidate.
        latency: Every candidate's latency (and the fixed part's).
        low: The least latency accepted.
        high: The most latency accepted.
        resolution: The DP's latency step, as a fraction of `high`.

    Raises:
        ValueError: Probabilities that do not match the space, or low > high.
    """
    if low > high:
        raise ValueError(f"expected low <= high, got {low} and {high}")
    if len(probabilities) != len(latency.candidates):
        raise ValueError(
            f"expected probabilities for {len(latency.candidates)} blocks, got {len(probabilities)}"
        )
    step = resolution * high
    # Each block's latency is rounded down to a step: the sum is at most one step per
    # block below the exact one, so the upper bound is narrowed by that much.
    blocks = len(latency.candidates)
    budget_high = high - latency.fixed
    budget_low = low - latency.fixed
    bins = math.floor(budget_high / step) - blocks
    if bins < 0:
        return None
    # best[b] = best log-probability of the first blocks at each latency bin; -inf: none.
    best = np.full(bins + 1, -np.inf)
    best[0] = 0.0
    back = []
    for probs, values in zip(probabilities, latency.candidates, strict=True):
        if len(probs) != len(values):
            raise ValueError(f"expected {len(values)} probabilities for a block, got {len(probs)}")
        nxt = np.full(bins + 1, -np.inf)
        arg = np.full(bins + 1, -1)
        for index, (p, value) in enumerate(zip(probs, values, strict=True)):
            if p <= 0:
                continue
            shift = math.floor(value / step)
            if shift > bins:
                continue
            moved = np.full(bins + 1, -np.inf)
            moved[shift:] = best[: bins + 1 - shift] + math.log(p)
            better = moved > nxt
            nxt[better], arg[better] = moved[better], index
        best = nxt
        back.append(arg)
    # Exact latencies are >= the rounded ones and < rounded + one step per block.
    first = max(0, math.ceil(budget_low / step))
    if first > bins or not np.isfinite(best[first:]).any():
        return None
    end = first + int(np.argmax(best[first:]))
    choices = []
    for block in range(blocks - 1, -1, -1):
        index = int(back[block][end])
        choices.append(index)
        end -= math.floor(latency.candidates[block][index] / step)
    choices.reverse()
    return choices
