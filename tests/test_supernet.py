"""Supernet, architecture parameters, derive and weight inheritance."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from tolerances import assert_same_network_outputs
from toy_search import tiny_space

from tfnas.nets import sampling
from tfnas.nets.builder import build_net
from tfnas.nets.costs import block_cost, net_cost
from tfnas.nets.registry import NETS, SPACES
from tfnas.nets.spec import ChoiceBlock, conv_output_size
from tfnas.search.supernet import ArchParameters, Supernet, derive, inherit_weights


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return Supernet(tiny_space())


def test_weights_and_arch_parameters_are_separate_collections(tiny):
    arch = ArchParameters(tiny.num_candidates, seed=0)
    weight_ids = {id(v) for v in tiny.trainable_variables}
    alpha_ids = {id(v) for v in arch.trainable_variables}
    assert len(alpha_ids) == 2 and not weight_ids & alpha_ids
    assert all("alpha" not in v.path for v in tiny.variables)
    assert [tuple(a.shape) for a in arch.alphas] == [(3,), (3,)]


def test_arch_parameters_start_near_uniform_and_are_seeded():
    first = ArchParameters([6, 7], seed=4)
    again = ArchParameters([6, 7], seed=4)
    for a, b in zip(first.alphas, again.alphas, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert np.all(np.abs(a.numpy()) < 0.01) and np.any(a.numpy() != 0)
    clone = ArchParameters.from_config(first.get_config())
    assert clone.num_candidates == [6, 7]
    with pytest.raises(ValueError, match="at least one candidate"):
        ArchParameters([3, 0])


def test_supernet_holds_every_candidate_once(tiny):
    space = tiny.space
    spec = space.select([0, 0])
    # Parameters: the shared skeleton plus every candidate of every choice block.
    size = conv_output_size(space.resolution, space.stem.stride)
    expected = net_cost(spec).params
    for block in space.blocks:
        if isinstance(block, ChoiceBlock):
            costs = [
                block_cost(block.select(j), size, size, "b").params
                for j in range(len(block.candidates))
            ]
            expected += sum(costs) - costs[0]
        size = conv_output_size(size, block.stride)
    assert sum(int(np.prod(v.shape)) for v in tiny.trainable_variables) == expected
    owners = tiny.candidate_weight_owners()
    assert set(owners.values()) == {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)}  # (1, 2) is Zero


def test_supernet_rejects_a_network():
    with pytest.raises(TypeError, match="expects a SearchSpace, got NetSpec"):
        Supernet(NETS.get("mobilenet_v2"))


def test_config_round_trip(tiny):
    clone = Supernet.from_config(tiny.get_config())
    assert clone.space == tiny.space
    assert [v.shape for v in clone.trainable_variables] == [
        v.shape for v in tiny.trainable_variables
    ]


def test_derive_takes_the_argmax_and_drops_zero_blocks():
    space = tiny_space()
    alphas = [np.array([0.1, 0.9, 0.3]), np.array([0.2, 0.1, 0.7])]  # 5x5_MBConv6, Zero
    spec = derive(space, alphas)
    assert spec.name == "tiny_derived"
    assert [b.op.name for b in spec.blocks] == ["3x3_MBConv1", "5x5_MBConv6"]
    model = build_net(spec)
    assert model.output_shape == (None, 3)


def test_derive_from_one_hot_logits_is_the_selected_network_without_zero_blocks():
    space = SPACES.get("proxyless_imagenet")
    rng = np.random.default_rng(0)
    choices = [int(rng.integers(len(b.candidates))) for b in space.choice_blocks]
    choices[-2] = len(space.choice_blocks[-2].candidates) - 1  # at least one Zero
    alphas = [
        np.eye(len(b.candidates))[c] for b, c in zip(space.choice_blocks, choices, strict=True)
    ]
    derived = derive(space, alphas)
    selected = space.select(choices)
    kept = tuple(b for b in selected.blocks if not b.is_identity)
    assert len(kept) < len(selected.blocks)
    assert derived == dataclasses.replace(selected, name="proxyless_imagenet_derived", blocks=kept)
    assert net_cost(derived).macs == net_cost(selected).macs


def test_derive_checks_the_logits_against_the_space():
    space = tiny_space()
    with pytest.raises(ValueError, match="expected 2 logit vectors"):
        derive(space, [np.zeros(3)])
    with pytest.raises(
        ValueError, match="choice block 1 has 3 candidates, but its logit vector has 4"
    ):
        derive(space, [np.zeros(3), np.zeros(4)])


@pytest.mark.parametrize("choices", [[1, 2], [2, 0]])
def test_inherited_network_computes_what_the_supernet_path_computes(tiny, choices):
    images = tf.constant(np.random.default_rng(0).normal(size=(4, 8, 8, 3)), tf.float32)
    sample = sampling.PathSample(tf.constant(choices), tf.fill([2], sampling.NO_PATH))
    tiny(images, sample, bn_mode="update")  # move the moving averages off their init
    model = inherit_weights(tiny, choices)
    assert model.name == "tiny_derived"
    for bn_mode, training in (("moving", False), ("batch", True)):
        expected = tiny(images, sample, bn_mode=bn_mode)
        assert_same_network_outputs(model(images, training=training).numpy(), expected.numpy())
    assert len(model.layers) < len(build_net(tiny.space.select(choices)).layers) or 2 in choices


def test_every_mode_computes_the_derived_network(tiny):
    """Same gates, same output: `one`, `two`, `full_v2` and `full` against the plain model."""
    images = tf.constant(np.random.default_rng(1).normal(size=(4, 8, 8, 3)), tf.float32)
    choices = [2, 0]
    sample = sampling.PathSample(tf.constant(choices), tf.constant([0, 1]))
    gates = [tf.one_hot(c, n) for c, n in zip(choices, tiny.num_candidates, strict=True)]
    expected = inherit_weights(tiny, choices)(images, training=True).numpy()
    for mode in ("one", "two", "full_v2", "full"):
        output = tiny(images, sample, gates=gates, mode=mode, bn_mode="batch")
        assert_same_network_outputs(output.numpy(), expected, err_msg=mode)


def test_a_fixed_zero_block_is_an_identity_in_the_supernet_as_in_the_built_network():
    """Both walk one skeleton (`tfnas.nets.builder.skeleton`): a Zero block with a residual
    passes its input through (the supernet's own walk used to add it to itself)."""
    from tfnas.nets.ops import ZeroOp
    from tfnas.nets.spec import BlockSpec

    base = tiny_space()
    zero = BlockSpec(ZeroOp(), 12, 12, 1, residual=True)
    space = dataclasses.replace(base, blocks=(*base.blocks, zero))
    keras.utils.set_random_seed(0)
    supernet = Supernet(space)
    images = tf.constant(np.random.default_rng(2).normal(size=(2, 8, 8, 3)), tf.float32)
    sample = sampling.PathSample(tf.constant([0, 1]), tf.fill([2], sampling.NO_PATH))
    model = inherit_weights(supernet, [0, 1])
    expected = supernet(images, sample, bn_mode="moving")
    assert_same_network_outputs(model(images, training=False).numpy(), expected.numpy())
    assert supernet.skeleton.identity == [False, False, False, True]
