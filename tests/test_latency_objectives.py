"""Expected latency is differentiable and right; latency losses and rewards by name."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from tfnas.latency import objectives
from tfnas.latency.model import SpaceLatency, space_latency
from tfnas.latency.targets import load_target
from tfnas.nets import sampling
from tfnas.nets.spaces import demo

SPACE = SpaceLatency(
    target="toy",
    unit="ms",
    fixed=2.0,
    candidates=((1.0, 4.0, 0.0), (3.0, 5.0)),
    measured=0,
    predicted=4,
)


def alphas(*values):
    return [tf.constant(v, tf.float32) for v in values]


def test_expected_latency_is_the_expectation_over_architectures():
    logits = alphas([0.3, -1.0, 0.5], [1.2, -0.4])
    probs = [tf.nn.softmax(a).numpy() for a in logits]
    enumerated = sum(
        probs[0][i] * probs[1][j] * SPACE.latency_of((i, j))
        for i, j in itertools.product(range(3), range(2))
    )
    assert float(objectives.expected_latency(SPACE, logits)) == pytest.approx(enumerated, rel=1e-6)


def test_zero_costs_nothing():
    certain_zero = alphas([-30.0, -30.0, 30.0], [30.0, -30.0])
    assert float(objectives.expected_latency(SPACE, certain_zero)) == pytest.approx(2.0 + 3.0)


def test_gradient_matches_finite_differences():
    space = space_latency(load_target("mobile"), demo())
    rng = np.random.default_rng(0)
    values = [rng.normal(size=len(c)) for c in space.candidates]
    variables = [tf.Variable(v, dtype=tf.float64) for v in values]
    with tf.GradientTape() as tape:
        latency = objectives.expected_latency(space, variables)
    grads = tape.gradient(latency, variables)

    def at(block, index, delta):
        shifted = [v.copy() for v in values]
        shifted[block][index] += delta
        return float(objectives.expected_latency(space, [tf.constant(s) for s in shifted]))

    eps = 1e-3
    for b, v in enumerate(values):
        numeric = [(at(b, i, eps) - at(b, i, -eps)) / (2 * eps) for i in range(len(v))]
        np.testing.assert_allclose(grads[b].numpy(), numeric, rtol=2e-3, atol=1e-4)
    assert any(np.abs(g.numpy()).max() > 1e-3 for g in grads)  # not vacuously zero


def test_sampled_latency_is_the_chosen_network():
    active = tf.constant([1, 0], tf.int32)
    assert float(objectives.sampled_latency(SPACE, active)) == pytest.approx(
        SPACE.latency_of((1, 0))
    )


def test_derived_estimate_is_the_argmax_network_with_the_gradient_of_the_expectation():
    logits = [tf.Variable([0.5, 0.2, 0.9]), tf.Variable([0.1, 0.3])]  # argmax: Zero, op 1
    with tf.GradientTape(persistent=True) as tape:
        derived = objectives.derived_latency_estimate(SPACE, logits)
        expected = objectives.expected_latency(SPACE, logits)
    assert float(derived) == pytest.approx(SPACE.latency_of((2, 1)))
    for a, b in zip(tape.gradient(derived, logits), tape.gradient(expected, logits), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_abs_on_the_derived_network_pushes_up_when_it_is_below_target():
    logits = [tf.Variable([0.0, 0.0, 0.1]), tf.Variable([0.1, 0.0])]  # derived 2 + 0 + 3 = 5
    for estimate, direction in (("expected", 1.0), ("derived", -1.0)):
        objective = objectives.make_arch_objective("abs", SPACE, 6.0, estimate=estimate)
        with tf.GradientTape() as tape:
            loss = objective(tf.constant(1.0), logits)
        grads = tape.gradient(loss, logits)
        # E[LAT] is about 6.7, above 6: lower it; the derived 5 is below 6: raise the costly op.
        assert direction * float(grads[0][1]) > 0


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("mul_log", lambda ce, lat, t: 0.2 * ce * (math.log(lat) / math.log(t)) ** 0.3),
        ("add_linear", lambda ce, lat, t: ce + 0.1 * (lat - t) / t),
        ("hinge", lambda ce, lat, t: ce + 0.1 * max(0.0, lat / t - 1)),
        ("abs", lambda ce, lat, t: ce + 0.5 * abs(lat / t - 1)),
    ],
)
def test_losses_follow_their_formulas_with_the_paper_defaults(name, formula):
    for latency in (60.0, 80.0, 120.0):
        got = objectives.latency_loss(name, tf.constant(1.7), tf.constant(latency), 80.0)
        assert float(got) == pytest.approx(formula(1.7, latency, 80.0), rel=1e-6)


def test_hinge_only_penalizes_above_target():
    below = objectives.latency_loss("hinge", tf.constant(1.0), tf.constant(50.0), 80.0)
    assert float(below) == pytest.approx(1.0)


def test_abs_pulls_latency_to_the_target_from_both_sides():
    def slope(latency):
        value = tf.Variable(latency)
        with tf.GradientTape() as tape:
            loss = objectives.latency_loss("abs", tf.constant(1.0), value, 80.0)
        return float(tape.gradient(loss, value))

    assert slope(60.0) < 0 < slope(100.0)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("proxyless", lambda acc, lat, t: acc * (t / lat) ** 0.1),
        ("mnas", lambda acc, lat, t: acc * (lat / t) ** -0.07),
        ("tunas_abs", lambda acc, lat, t: acc - 0.1 * abs(lat / t - 1)),
    ],
)
def test_rewards_follow_their_formulas(name, formula):
    for latency in (40.0, 80.0, 100.0):
        got = objectives.latency_reward(name, tf.constant(0.7), tf.constant(latency), 80.0)
        assert float(got) == pytest.approx(formula(0.7, latency, 80.0), rel=1e-6)


def test_objective_moves_alpha_toward_cheaper_ops():
    objective = objectives.make_arch_objective("add_linear", SPACE, target=3.0, lam=1.0)
    variables = [tf.Variable(tf.zeros(3)), tf.Variable(tf.zeros(2))]
    with tf.GradientTape() as tape:
        loss = objective(tf.constant(1.0), variables)
    grads = tape.gradient(loss, variables)
    # Gradient descent lowers the logit of the dearest op and raises Zero's.
    assert grads[0].numpy().argmax() == 1 and grads[0].numpy().argmin() == 2


def test_reward_scores_the_sampled_network():
    reward = objectives.make_reward("tunas_abs", SPACE, target=SPACE.latency_of((0, 0)))
    logits = tf.constant([[5.0, 0.0], [0.0, 5.0]])
    labels = tf.constant([0, 1])
    on_target = sampling.PathSample(tf.constant([0, 0]), tf.constant([-1, -1]))
    off_target = sampling.PathSample(tf.constant([1, 1]), tf.constant([-1, -1]))
    assert float(reward(logits, labels, on_target)) == pytest.approx(1.0)
    assert float(reward(logits, labels, off_target)) < 1.0


def test_bad_names_and_targets_are_clear_errors():
    with pytest.raises(ValueError, match="unknown loss 'latency'; choose one of mul_log"):
        objectives.make_arch_objective("latency", SPACE, 80.0)
    with pytest.raises(ValueError, match="target latency must be a number > 0 ms, got -5"):
        objectives.make_arch_objective("add_linear", SPACE, -5)
    with pytest.raises(ValueError, match="needs target > 1 ms.*add_linear"):
        objectives.make_arch_objective("mul_log", SPACE, 0.5)
    with pytest.raises(ValueError, match=r"takes \['lam'\], got unknown \['beta'\]"):
        objectives.make_arch_objective("hinge", SPACE, 80.0, beta=1.0)
    with pytest.raises(ValueError, match="unknown reward"):
        objectives.make_reward("speed", SPACE, 80.0)
    with pytest.raises(ValueError, match="same space"):
        objectives.expected_latency(SPACE, alphas([0.0, 0.0, 0.0]))


# -- Plugged into the search steps -----------------------------------------------


@pytest.mark.parametrize("mode", ["two", "full_v2", "reinforce"])
def test_latency_term_in_search_steps_lowers_expected_latency(mode):
    import keras
    from toy_search import tiny_space

    from tfnas.search.path_optimizer import SampledPathSGD
    from tfnas.search.steps import SearchSteps
    from tfnas.search.supernet import ArchParameters, Supernet

    space = tiny_space()
    latencies = space_latency(load_target("flops"), space)
    target = latencies.latency_of([0, 2])  # cheapest candidates
    keras.utils.set_random_seed(0)
    net = Supernet(space)
    arch = ArchParameters(net.num_candidates, seed=0)
    kwargs = (
        {"reward_fn": objectives.make_reward("tunas_abs", latencies, target, beta=-5.0)}
        if mode == "reinforce"
        else {"arch_objective": objectives.make_arch_objective("hinge", latencies, target, lam=5.0)}
    )
    steps = SearchSteps(
        net,
        arch,
        SampledPathSGD(0.1, candidate_owners=net.candidate_weight_owners()),
        keras.optimizers.Adam(0.1, beta_1=0.0),
        mode=mode,
        **kwargs,
    )
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(8, 8, 8, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 3, 8), tf.int32)
    before = float(objectives.expected_latency(latencies, arch.alphas))
    for step in range(30):
        steps.arch_step(images, labels, tf.constant([step, 7]))
    after = float(objectives.expected_latency(latencies, arch.alphas))
    assert after < before - 0.2 * (before - target)


@pytest.mark.parametrize("loss", objectives.LOSSES)
def test_two_mode_keeps_every_unsampled_ops_probability_with_a_latency_term(loss):
    """The reference's two-path rule: the latency term weighs by the sampled pair's
    probabilities, so only the pair's logits get a gradient and the rescale keeps every
    other op's probability (before, E[LAT] over all ops moved them by up to 1.3%)."""
    import keras
    from toy_search import tiny_space

    from tfnas.search.path_optimizer import SampledPathSGD
    from tfnas.search.steps import SearchSteps
    from tfnas.search.supernet import ArchParameters, Supernet

    space = tiny_space()
    # Latencies in ms above 1 (mul_log divides by log T); tiny_space has 3 + 3 candidates.
    latency = SpaceLatency("toy", "ms", 10.0, ((2.0, 4.0, 6.0), (3.0, 5.0, 0.0)), 0, 6)
    keras.utils.set_random_seed(0)
    net = Supernet(space)
    arch = ArchParameters(net.num_candidates, init_stddev=0.5, seed=0)
    steps = SearchSteps(
        net,
        arch,
        SampledPathSGD(0.1, candidate_owners=net.candidate_weight_owners()),
        keras.optimizers.Adam(0.1, beta_1=0.0),  # the paper's beta_1: no momentum on alpha
        mode="two",
        arch_objective=objectives.make_arch_objective(loss, latency, 14.0),
    )
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(8, 8, 8, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 3, 8), tf.int32)
    moved = 0
    for step in range(6):
        before = [tf.nn.softmax(tf.cast(a, tf.float64)).numpy() for a in arch.alphas]
        out = steps.arch_step(images, labels, tf.constant([step, 3]))
        after = [tf.nn.softmax(tf.cast(a, tf.float64)).numpy() for a in arch.alphas]
        for b, (p0, p1) in enumerate(zip(before, after, strict=True)):
            pair = {int(out["active"][b]), int(out["inactive"][b])}
            others = [i for i in range(len(p0)) if i not in pair]
            # 1e-6: float32 logits rescaled by a float32 log-sum-exp round at ~1e-7.
            np.testing.assert_allclose(p1[others], p0[others], rtol=1e-6)
            moved += int(not np.allclose(p1[list(pair)], p0[list(pair)], rtol=1e-4))
    assert moved > 0  # the pairs themselves did move


def test_pair_probabilities_are_the_softmax_over_the_pair():
    logits = alphas([1.0, 2.0, 3.0], [0.5, 0.5])
    sample = sampling.PathSample(tf.constant([2, 0]), tf.constant([0, 1]))
    got = [p.numpy() for p in sampling.pair_probabilities(logits, sample)]
    e = math.exp(1.0)
    np.testing.assert_allclose(got[0], [1 / (1 + e**2), 0.0, e**2 / (1 + e**2)], rtol=1e-6)
    np.testing.assert_allclose(got[1], [0.5, 0.5], rtol=1e-6)
    # The latency term: the pair's latencies weighed by these, nothing of the third op.
    under = float(objectives.latency_under(SPACE, sampling.pair_probabilities(logits, sample)))
    assert under == pytest.approx(2.0 + got[0][0] * 1.0 + got[0][2] * 0.0 + 0.5 * 3.0 + 0.5 * 5.0)
