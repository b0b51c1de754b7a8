"""`tfnas.search.constrained`: the most likely network within a latency window, exactly."""

import itertools
import math

import numpy as np
import pytest

from tfnas.latency.model import SpaceLatency
from tfnas.search.constrained import most_likely_within


def space(candidates, fixed=0.1):
    return SpaceLatency("t", "ms", fixed, tuple(map(tuple, candidates)), 0, 0)


def brute_force(probabilities, latency, low, high):
    best, best_score = None, -math.inf
    for choices in itertools.product(*(range(len(p)) for p in probabilities)):
        value = latency.latency_of(choices)
        score = sum(
            math.log(p[c]) if p[c] > 0 else -math.inf
            for p, c in zip(probabilities, choices, strict=True)
        )
        if low <= value <= high and score > best_score:
            best, best_score = list(choices), score
    return best, best_score


@pytest.mark.parametrize("seed", range(20))
def test_the_pick_is_the_most_likely_network_in_the_window(seed):
    rng = np.random.default_rng(seed)
    blocks = [int(rng.integers(2, 5)) for _ in range(5)]
    candidates = [rng.uniform(0.0, 1.0, n).round(4) for n in blocks]
    probabilities = [rng.dirichlet(np.ones(n)) for n in blocks]
    latency = space(candidates)
    values = sorted(latency.latency_of(c) for c in itertools.product(*(range(n) for n in blocks)))
    center = values[int(rng.integers(len(values)))]
    low, high = center * 0.97, center * 1.03
    picked = most_likely_within(probabilities, latency, low, high)
    _want, want_score = brute_force(probabilities, latency, low, high * (1 - 5e-4))
    assert picked is not None and low <= latency.latency_of(picked) <= high
    score = sum(math.log(p[c]) for p, c in zip(probabilities, picked, strict=True))
    # At least as likely as the best network of the window narrowed by the DP's rounding.
    assert score >= want_score - 1e-12


def test_an_empty_window_or_a_mismatch_is_said():
    latency = space([[0.1, 0.2], [0.0, 0.3]])
    assert most_likely_within([[0.5, 0.5], [0.5, 0.5]], latency, 5.0, 6.0) is None
    assert most_likely_within([[0.5, 0.5], [0.5, 0.5]], latency, 0.0, 0.05) is None
    # The likeliest (0.9 * 0.9) is 0.5 ms; within [0.25, 0.35] only 0.1 + 0.2 + Zero.
    assert most_likely_within([[0.9, 0.1], [0.1, 0.9]], latency, 0.25, 0.35) == [1, 0]
    with pytest.raises(ValueError, match="probabilities for 2 blocks, got 1"):
        most_likely_within([[1.0]], latency, 0.1, 0.2)
    with pytest.raises(ValueError, match="expected low <= high, got 0.3 and 0.2"):
        most_likely_within([[0.5, 0.5], [0.5, 0.5]], latency, 0.3, 0.2)
