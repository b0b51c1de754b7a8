import keras
import numpy as np
import pytest

from tfnas.nets.builder import build_net
from tfnas.nets.costs import block_cost, net_cost, space_cost_bounds
from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.registry import NETS, SPACES
from tfnas.nets.spec import BlockSpec


def weight_counts(model) -> tuple[int, int]:
    count = lambda weights: sum(int(np.prod(w.shape)) for w in weights)  # noqa: E731
    return count(model.trainable_weights), count(model.non_trainable_weights)


@pytest.mark.parametrize("name", NETS.names())
def test_spec_counts_match_the_keras_model(name):
    spec = NETS.get(name, resolution=96)  # parameters do not depend on resolution
    cost = net_cost(spec)
    assert weight_counts(build_net(spec)) == (cost.params, cost.bn_stats)


def test_mobilenet_v2_matches_keras_applications():
    reference = keras.applications.MobileNetV2(weights=None)  # no download with weights=None
    cost = net_cost(NETS.get("mobilenet_v2"))
    assert weight_counts(reference) == (cost.params, cost.bn_stats) == (3_504_872, 34_112)


def test_block_cost_by_hand():
    # 16 -> 24 channels, 5x5 expand 3, stride 2, at 56x56 input (28x28 output).
    cost = block_cost(BlockSpec(MBConvOp(5, 3), 16, 24, 2, False), 56, 56, "b")
    mid = 48
    assert cost.output_shape == (28, 28, 24)
    assert cost.macs == 56 * 56 * 16 * mid + 28 * 28 * 25 * mid + 28 * 28 * mid * 24
    assert cost.params == 16 * mid + 25 * mid + mid * 24 + 2 * (mid + mid + 24)
    assert cost.bn_stats == 2 * (mid + mid + 24)
    assert block_cost(BlockSpec(ZeroOp(), 8, 8, 1, True), 7, 7, "z").macs == 0


def test_macs_scale_with_resolution():
    # 448 and 224 are multiples of the total stride 32, so every feature map is
    # exactly twice as wide and everything but the classifier costs 4 times as much.
    spec = NETS.get("proxyless_mobile")
    full, double = net_cost(spec), net_cost(spec.with_resolution(448))
    classifier = full.layers[-1].macs
    assert double.macs - classifier == 4 * (full.macs - classifier)
    assert double.params == full.params


def test_space_bounds_bracket_its_networks():
    space = SPACES.get("proxyless_imagenet")
    cheapest, dearest = space_cost_bounds(space)
    for net in ("proxyless_mobile",):
        assert cheapest.macs < net_cost(NETS.get(net)).macs < dearest.macs
    all_zero = space.select([len(b.candidates) - 1 for b in space.choice_blocks])
    assert cheapest.macs <= net_cost(all_zero).macs
    all_big = space.select([5] * len(space.choice_blocks))  # 7x7_MBConv6 everywhere
    assert dearest.macs == net_cost(all_big).macs
