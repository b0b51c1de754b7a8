"""Sampling and the binary-gate estimator as pure functions of alpha."""

import numpy as np
import pytest
import tensorflow as tf

from tfnas.nets import sampling

ALPHAS = [tf.constant([0.8, -0.4, 0.1, 0.3]), tf.constant([0.0, 1.0, -1.0])]


def _frequencies(indices: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(indices, minlength=n) / len(indices)


def test_probabilities_are_the_softmax():
    for alpha, p in zip(ALPHAS, sampling.probabilities(ALPHAS), strict=True):
        expected = np.exp(alpha.numpy()) / np.exp(alpha.numpy()).sum()
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-6)


def test_sample_one_is_a_pure_function_of_alpha_and_seed():
    first = sampling.sample_one(ALPHAS, tf.constant([3, 4]))
    again = sampling.sample_one(ALPHAS, tf.constant([3, 4]))
    np.testing.assert_array_equal(first.active, again.active)
    np.testing.assert_array_equal(first.inactive, [sampling.NO_PATH] * 2)
    draws = np.stack([sampling.sample_one(ALPHAS, tf.constant([s, 0])).active for s in range(40)])
    assert len({tuple(d) for d in draws}) > 5  # different seeds, different paths


def test_sample_one_follows_p():
    sample_fn = tf.function(lambda seed: sampling.sample_one(ALPHAS, seed).active)
    draws = np.stack([sample_fn(tf.constant([s, 1])).numpy() for s in range(3000)])
    for b, p in enumerate(sampling.probabilities(ALPHAS)):
        # 5 standard errors of a frequency from 3000 draws is at most 0.046.
        np.testing.assert_allclose(_frequencies(draws[:, b], len(p)), p.numpy(), atol=0.046)


def test_sample_uniform_ignores_alpha():
    sample_fn = tf.function(lambda seed: sampling.sample_uniform([4], seed).active)
    draws = np.array([int(sample_fn(tf.constant([s, 2]))[0]) for s in range(2000)])
    np.testing.assert_allclose(_frequencies(draws, 4), [0.25] * 4, atol=0.05)


def test_sample_two_draws_distinct_pairs_and_the_active_by_renormalized_p():
    alpha = ALPHAS[0]
    p = sampling.probabilities([alpha])[0].numpy()
    sample_fn = tf.function(lambda seed: sampling.sample_two([alpha], seed))
    draws = [sample_fn(tf.constant([s, 3])) for s in range(3000)]
    active = np.array([int(d.active[0]) for d in draws])
    inactive = np.array([int(d.inactive[0]) for d in draws])
    assert np.all(active != inactive)
    # P(active = a) = sum over b != a of P(pair {a, b}) * p_a / (p_a + p_b), with
    # P(pair {a, b}) = p_a p_b / (1 - p_a) + p_b p_a / (1 - p_b).
    expected = np.zeros(4)
    for a in range(4):
        for b in range(4):
            if a != b:
                pair = p[a] * p[b] / (1 - p[a]) + p[b] * p[a] / (1 - p[b])
                expected[a] += pair * p[a] / (p[a] + p[b])
    np.testing.assert_allclose(_frequencies(active, 4), expected, atol=0.046)


def test_sample_two_needs_two_candidates():
    with pytest.raises(ValueError, match="choice block 1 has 1 candidate"):
        sampling.sample_two([tf.zeros([3]), tf.zeros([1])], tf.constant([0, 0]))


def test_log_prob_sums_the_blocks_log_softmax():
    active = tf.constant([2, 1])
    expected = sum(
        np.log(sampling.probabilities(ALPHAS)[b].numpy()[int(active[b])]) for b in range(2)
    )
    np.testing.assert_allclose(sampling.log_prob(ALPHAS, active).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("renormalize", [False, True])
def test_gate_values_are_one_hot_of_the_active_path(renormalize):
    sample = sampling.PathSample(tf.constant([2, 0]), tf.constant([1, 2]))
    gates = sampling.binary_gates(ALPHAS, sample, renormalize=renormalize)
    np.testing.assert_array_equal(gates[0].numpy(), [0, 0, 1, 0])
    np.testing.assert_array_equal(gates[1].numpy(), [1, 0, 0])


def _paper_formula(d_gate: np.ndarray, p: np.ndarray) -> np.ndarray:
    """dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i), written out as the double sum."""
    n = len(p)
    return np.array([sum(d_gate[j] * p[j] * ((i == j) - p[i]) for j in range(n)) for i in range(n)])


def test_gate_gradient_is_the_paper_formula_over_all_paths():
    alpha = tf.Variable([0.8, -0.4, 0.1, 0.3])
    d_gate = np.array([0.5, -1.0, 2.0, 0.25], np.float32)
    sample = sampling.PathSample(tf.constant([1]), tf.constant([sampling.NO_PATH]))
    with tf.GradientTape() as tape:
        gate = sampling.binary_gates([alpha], sample)[0]
        loss = tf.reduce_sum(gate * d_gate)  # so that dL/dg = d_gate
    grad = tape.gradient(loss, alpha).numpy()
    p = tf.nn.softmax(alpha).numpy()
    np.testing.assert_allclose(grad, _paper_formula(d_gate, p), rtol=1e-5, atol=1e-7)


def test_gate_gradient_in_two_mode_uses_the_pair_only():
    alpha = tf.Variable([0.8, -0.4, 0.1, 0.3])
    d_gate = np.array([0.5, -1.0, 2.0, 0.25], np.float32)
    sample = sampling.PathSample(tf.constant([2]), tf.constant([0]))
    with tf.GradientTape() as tape:
        gate = sampling.binary_gates([alpha], sample, renormalize=True)[0]
        loss = tf.reduce_sum(gate * d_gate)
    grad = tape.gradient(loss, alpha).numpy()
    pair = [0, 2]
    q = tf.nn.softmax(tf.gather(alpha, pair)).numpy()
    expected = np.zeros(4)
    expected[pair] = _paper_formula(d_gate[pair], q)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)
    assert grad[1] == 0 and grad[3] == 0


def test_rescale_two_keeps_the_other_ops_probabilities():
    old = tf.constant([0.8, -0.4, 0.1, 0.3])
    new = tf.constant([1.3, -0.4, -0.6, 0.3])  # an update moved ops 0 and 2
    sample = sampling.PathSample(tf.constant([0]), tf.constant([2]))
    rescaled = sampling.rescale_two([old], [new], sample)[0]
    p_old = tf.nn.softmax(old).numpy()
    p_new = tf.nn.softmax(rescaled).numpy()
    np.testing.assert_allclose(p_new[[1, 3]], p_old[[1, 3]], rtol=1e-6)
    # The pair keeps its total probability, split as the update decided.
    np.testing.assert_allclose(p_new[0] + p_new[2], p_old[0] + p_old[2], rtol=1e-6)
    np.testing.assert_allclose(p_new[0] / p_new[2], np.exp(1.3 + 0.6), rtol=1e-5)
    np.testing.assert_array_equal(rescaled.numpy()[[1, 3]], new.numpy()[[1, 3]])


def test_entropy_and_most_likely():
    uniform, peaked = tf.zeros([4]), tf.constant([0.0, 9.0, 0.0])
    entropies = sampling.entropy([uniform, peaked])
    np.testing.assert_allclose(entropies[0].numpy(), np.log(4), rtol=1e-6)
    assert entropies[1].numpy() < 0.01
    assert sampling.most_likely([tf.constant([0.1, 0.3, 0.2]), peaked]) == [1, 1]
