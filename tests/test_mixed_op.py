"""MixedOp: building, the run modes, batch-norm modes and the gate gradient it supplies."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnas.nets import sampling
from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.spec import BatchNormSpec, ChoiceBlock
from tfnas.search.mixed_op import MixedOp, batch_norm, run_layers

CANDIDATES = (MBConvOp(3, 3), MBConvOp(5, 6), MBConvOp(7, 3), ZeroOp())
ALPHA = [0.6, -0.5, 0.2, -0.1]


def _mixed_op(seed: int = 0) -> MixedOp:
    keras.utils.set_random_seed(seed)
    choice = ChoiceBlock(CANDIDATES, 4, 4, 1, residual=True)
    op = MixedOp.from_choice(choice, "block01", BatchNormSpec(), name="block01_mixed")
    op.build((None, 6, 6, 4))
    return op


def _inputs(seed: int = 1) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).normal(size=(8, 6, 6, 4)), tf.float32)


def _single(active: int) -> sampling.PathSample:
    return sampling.PathSample(tf.constant([active]), tf.constant([sampling.NO_PATH]))


def test_every_candidate_is_built_before_the_first_call():
    op = _mixed_op()
    assert op.num_candidates == 4
    for j, candidate in enumerate(CANDIDATES):
        weights = op.candidate_weights(j)
        if isinstance(candidate, ZeroOp):
            assert weights == []
        else:
            assert weights and all(w.shape.rank >= 1 for w in weights)
    names = [layer.name for layer in op.paths[1]]
    assert names[:3] == [
        "block01_5x5_MBConv6_expand_conv",
        "block01_5x5_MBConv6_expand_bn",
        "block01_5x5_MBConv6_expand_relu",
    ]


def test_config_round_trip_rebuilds_the_same_block():
    op = _mixed_op()
    clone = MixedOp.from_config(op.get_config())
    assert clone.choice == op.choice
    assert clone.block_prefix == "block01"
    clone.build((None, 6, 6, 4))
    assert [w.shape for w in clone.weights] == [w.shape for w in op.weights]


def test_bad_mode_and_missing_gate_are_reported():
    op, x = _mixed_op(), _inputs()
    with pytest.raises(ValueError, match="mode must be one of"):
        op(x, active=tf.constant(0), gate=tf.one_hot(0, 4), mode="partial")
    with pytest.raises(ValueError, match="needs the block's gate"):
        op(x, active=tf.constant(0), mode="full")
    with pytest.raises(ValueError, match="bn_mode must be one of"):
        op(x, active=tf.constant(0), bn_mode="train")


def test_batch_mode_normalizes_like_keras_training_without_touching_the_averages():
    layer = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    x = _inputs() * 3.0 + 1.0
    layer.build(x.shape)
    layer.gamma.assign(tf.random.normal([4]))
    layer.beta.assign(tf.random.normal([4]))
    mean_before = layer.moving_mean.numpy().copy()
    batch = batch_norm(layer, x, "batch")
    np.testing.assert_array_equal(layer.moving_mean.numpy(), mean_before)
    trained = layer(x, training=True)
    assert not np.array_equal(layer.moving_mean.numpy(), mean_before)
    np.testing.assert_allclose(batch.numpy(), trained.numpy(), atol=1e-5)
    moving = batch_norm(layer, x, "moving")
    np.testing.assert_allclose(moving.numpy(), layer(x, training=False).numpy(), atol=1e-6)


def _bn_means(op: MixedOp) -> list[np.ndarray]:
    return [
        layer.moving_mean.numpy().copy()
        for path in op.paths
        for layer in path
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def test_only_the_active_path_executes_under_tf_function():
    """The BN moving averages show which branches ran: only the sampled one's move."""
    op, x = _mixed_op(), _inputs()
    run = tf.function(lambda x, a: op(x, active=a, mode="one", bn_mode="update"))
    for active in (0, 2):
        before = {
            j: [layer.moving_mean.numpy().copy() for layer in path if hasattr(layer, "moving_mean")]
            for j, path in enumerate(op.paths)
        }
        run(x, tf.constant(active))
        for j, path in enumerate(op.paths):
            after = [layer.moving_mean.numpy() for layer in path if hasattr(layer, "moving_mean")]
            changed = any(not np.array_equal(a, b) for a, b in zip(after, before[j], strict=True))
            assert changed == (j == active), (active, j)


@pytest.mark.parametrize("active", [0, 2, 3])
def test_a_path_fixed_when_traced_computes_what_the_switched_path_computes(active):
    """A Python int runs that path with no switch: same output and weight gradients.

    The switched path's gradient gives the other candidates zeros; the
    fixed path gives them none, which is what it is for (benchmarks.efficiency).
    """
    op, x = _mixed_op(), _inputs()
    weights = op.trainable_weights

    @tf.function
    def run(index):
        with tf.GradientTape() as tape:
            y = op(x, active=index, mode="one", bn_mode="batch")
            loss = tf.reduce_sum(y * y)
        return y, tape.gradient(loss, weights)

    y_fixed, grads_fixed = run(active)
    y_switched, grads_switched = run(tf.constant(active))
    # The same kernels in two graphs, which Grappler may fuse differently:
    # a few float32 ulps at most.
    np.testing.assert_allclose(y_fixed.numpy(), y_switched.numpy(), rtol=1e-6, atol=1e-6)
    own = {id(w) for w in op.candidate_weights(active)}
    for weight, fixed, switched in zip(weights, grads_fixed, grads_switched, strict=True):
        if id(weight) in own:
            np.testing.assert_allclose(fixed.numpy(), switched.numpy(), rtol=1e-6, atol=1e-6)
        else:
            assert fixed is None
            assert not np.any(switched.numpy())


def test_arch_modes_leave_the_moving_averages_alone():
    op, x = _mixed_op(), _inputs()
    before = _bn_means(op)
    gate = tf.one_hot(1, 4)
    for mode in ("two", "full_v2", "full"):
        with tf.GradientTape() as tape:
            tape.watch(gate)
            y = op(
                x,
                active=tf.constant(1),
                inactive=tf.constant(2),
                gate=gate,
                mode=mode,
                bn_mode="batch",
            )
        tape.gradient(tf.reduce_sum(y), gate)
    for a, b in zip(_bn_means(op), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("active,inactive", [(0, 1), (1, 3), (2, 0), (3, 2)])
def test_modes_give_the_same_output_as_the_plain_path(active, inactive):
    op, x = _mixed_op(), _inputs()
    plain = tf.zeros_like(x) if active == 3 else run_layers(op.paths[active], x, "batch")
    gate = tf.one_hot(active, 4)
    for mode in ("one", "two", "full_v2", "full"):
        y = op(
            x,
            active=tf.constant(active),
            inactive=tf.constant(inactive),
            gate=gate,
            mode=mode,
            bn_mode="batch",
        )
        np.testing.assert_allclose(y.numpy(), plain.numpy(), atol=1e-6, err_msg=mode)


# -- The gate gradient ---------------------------------------------------------
#
# A toy mixed op: fixed input, loss L = mean((y - t)^2) of the block output y.
# With o_j the output of candidate j, the loss is a known function of which
# path runs, and dL/dg_j = <dL/dy, o_j> with y = o_active. The estimator's
# expectation over the path sampling is then computed exactly by enumeration,
# and compared with the mean of the implementation's estimates over many draws.


def _toy():
    op, x = _mixed_op(seed=3), _inputs(seed=4)
    outputs = [
        np.zeros(x.shape, np.float32) if not path else run_layers(path, x, "batch").numpy()
        for path in op.paths
    ]
    target = np.random.default_rng(5).normal(size=x.shape).astype(np.float32)
    return op, x, outputs, target


def _d_gate(outputs, target, active):
    """dL/dg_j for L = mean((y - t)^2) with y = o_active."""
    dy = 2.0 * (outputs[active] - target) / target.size
    return np.array([np.sum(dy * o) for o in outputs])


def _formula(d_gate, p):
    return p * (d_gate - np.sum(d_gate * p))


def _expected_full(outputs, target, p):
    return sum(p[a] * _formula(_d_gate(outputs, target, a), p) for a in range(len(p)))


def _expected_two(outputs, target, p):
    n, total = len(p), np.zeros(len(p))
    for u, v in itertools.permutations(range(n), 2):
        p_pair = p[u] * p[v] / (1 - p[u])  # u drawn first, then v
        q = np.array([p[u], p[v]]) / (p[u] + p[v])
        for active, weight in ((u, q[0]), (v, q[1])):
            d_gate = _d_gate(outputs, target, active)[[u, v]]
            estimate = np.zeros(n)
            estimate[[u, v]] = _formula(d_gate, q)
            total += p_pair * weight * estimate
    return total


def _alpha_gradient(op, x, target, alpha, sample, mode):
    """dL/dalpha of the toy loss for one sample, through the gates."""
    with tf.GradientTape() as tape:
        gate = sampling.binary_gates([alpha], sample, renormalize=mode == "two")[0]
        y = op(
            x,
            active=sample.active[0],
            inactive=sample.inactive[0],
            gate=gate,
            mode=mode,
            bn_mode="batch",
        )
        loss = tf.reduce_mean(tf.square(y - target))
    return tape.gradient(loss, alpha)


def _estimator(op, x, target, mode):
    alpha = tf.Variable(ALPHA)
    draw = sampling.sample_two if mode == "two" else sampling.sample_one

    @tf.function
    def estimate(seed):
        return _alpha_gradient(op, x, target, alpha, draw([alpha], seed), mode)

    return estimate


@pytest.mark.parametrize("mode", ["two", "full_v2", "full"])
def test_gate_gradient_matches_the_paper_formula_in_expectation(mode):
    op, x, outputs, target = _toy()
    p = tf.nn.softmax(ALPHA).numpy()
    expected = (
        _expected_two(outputs, target, p) if mode == "two" else _expected_full(outputs, target, p)
    )
    estimate = _estimator(op, x, target, mode)
    draws = np.stack([estimate(tf.constant([s, 7])).numpy() for s in range(1500)])
    mean = draws.mean(axis=0)
    standard_error = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(mean - expected) <= 4 * standard_error + 1e-7), (mean, expected)
    # Not vacuous: the estimate varies with the sample, and its mean is far from 0.
    assert np.max(draws.std(axis=0)) > 0
    assert np.max(np.abs(expected)) > 10 * np.max(standard_error)


@pytest.mark.parametrize("mode", ["full_v2", "full"])
def test_each_estimate_is_the_formula_for_its_sample(mode):
    op, x, outputs, target = _toy()
    p = tf.nn.softmax(ALPHA).numpy()
    estimate = _estimator(op, x, target, mode)
    for seed in range(6):
        active = int(sampling.sample_one([tf.constant(ALPHA)], tf.constant([seed, 7])).active[0])
        expected = _formula(_d_gate(outputs, target, active), p)
        np.testing.assert_allclose(
            estimate(tf.constant([seed, 7])).numpy(), expected, rtol=1e-4, atol=1e-7
        )


@pytest.mark.parametrize("mode", ["two", "full_v2", "full"])
def test_zero_gets_its_update_when_it_is_the_active_path(mode):
    """The reference code drops the block's whole update when Zero runs; here it does not."""
    op, x, _, target = _toy()
    alpha = tf.Variable(ALPHA)
    sample = sampling.PathSample(tf.constant([3]), tf.constant([1]))  # Zero runs
    grad = _alpha_gradient(op, x, target, alpha, sample, mode).numpy()
    assert grad[3] != 0  # Zero's own logit moves
    assert grad[1] != 0  # and so does the path that would have run instead
