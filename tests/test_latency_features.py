"""Features of a key: size-dependent GEMM efficiency and cache spills, counted as documented."""

import itertools
import math

import pytest

from tfnas.latency.features import (
    CACHE_CAPACITIES,
    FEATURES,
    GEMM_SIZE_ANCHORS,
    SMALL_GEMM_FEATURES,
    SPILL_FEATURES,
    features,
    gemm_size_shares,
    raw_features,
)
from tfnas.latency.keys import parse_key


def test_feature_names_are_unique_and_scaled_vectors_follow_their_order():
    assert len(set(FEATURES)) == len(FEATURES)
    key = parse_key("Conv_1-input:7x7x320-output:7x7x1280")
    raw = raw_features(key)
    vector = features(key)
    assert vector[FEATURES.index("ops")] == raw["ops"] == 1
    assert vector[FEATURES.index("gemm_macs")] == pytest.approx(7 * 7 * 320 * 1280 / 1e6)


@pytest.mark.parametrize("anchor", GEMM_SIZE_ANCHORS)
def test_gemm_size_shares_at_the_anchors(anchor):
    """At an anchor, every feature for a larger size is whole and every other one is empty."""
    shares = gemm_size_shares(anchor * anchor)
    below = [high > anchor for _, high in itertools.pairwise(GEMM_SIZE_ANCHORS)]
    assert shares == [1.0 if b else 0.0 for b in below]


def test_gemm_size_shares_are_linear_in_log_rows_between_anchors():
    low, high = GEMM_SIZE_ANCHORS[1], GEMM_SIZE_ANCHORS[2]  # 14 and 28
    middle = round(math.sqrt(low * low * high * high))  # geometric middle: 14 * 28 rows
    shares = gemm_size_shares(middle)
    assert shares[SMALL_GEMM_FEATURES.index(f"gemm_macs_below_{high}")] == pytest.approx(0.5)


def test_gemm_cost_per_mac_never_rises_with_size():
    """With any non-negative coefficients the extra cost per MAC falls (or stays) as rows grow."""
    rows = [1, 10, 49, 100, 196, 500, 784, 2000, 3136, 8000, 12544, 50176]
    totals = [sum(gemm_size_shares(r)) for r in rows]
    each = list(zip(*(gemm_size_shares(r) for r in rows), strict=True))
    for series in [totals, *each]:
        assert all(a >= b for a, b in itertools.pairwise(series)), series
    assert totals[0] == len(SMALL_GEMM_FEATURES) and totals[-1] == 0


def test_small_gemm_features_carry_the_gemm_macs_share():
    # The classifier's dense layer is one row: its MACs count in every small-GEMM feature.
    logits = raw_features(parse_key("Logits-input:1x1x1280-output:1000"))
    assert all(logits[name] == logits["gemm_macs"] == 1280 * 1000 for name in SMALL_GEMM_FEATURES)
    # A 112x112 stem is past the last anchor: none of its MACs count as small.
    stem = raw_features(parse_key("Conv-input:224x224x3-output:112x112x32"))
    assert stem["gemm_macs"] > 0 and all(stem[name] == 0 for name in SMALL_GEMM_FEATURES)


def test_spill_features_count_each_tensor_beyond_each_capacity():
    # A 1x1 conv reading 2**19 elements (2 MiB of float32) and writing 2**20 (4 MiB).
    raw = raw_features(parse_key("Conv_1-input:32x32x512-output:32x32x1024"))
    read, written = 2**19, 2**20
    for capacity, name in zip(CACHE_CAPACITIES.values(), SPILL_FEATURES, strict=True):
        expected = max(0, read - capacity) + max(0, written - capacity)
        assert raw[name] == expected, name
    assert raw["elements_beyond_4MiB"] == 0


def test_residual_add_spills_per_input_tensor():
    """The add reads two tensors; each spills on its own, not their sum."""
    base = "expanded_conv-input:64x64x128-output:64x64x128-expand:1-kernel:3-stride:1"
    with_add = raw_features(parse_key(f"{base}-idskip:1"))
    without = raw_features(parse_key(f"{base}-idskip:0"))
    tensor = 64 * 64 * 128  # 2**19 elements
    extra = with_add["elements_beyond_1MiB"] - without["elements_beyond_1MiB"]
    assert extra == 3 * (tensor - CACHE_CAPACITIES["1MiB"])  # two reads and one write
    assert with_add["elements_beyond_2MiB"] == without["elements_beyond_2MiB"] == 0
