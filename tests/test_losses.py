"""`tfnas.engine.losses`: the cross-entropy (with label smoothing) and accuracy training uses."""

import math

import numpy as np
import pytest

from tfnas.engine.losses import accuracy, cross_entropy


def test_cross_entropy_smooths_the_targets_toward_uniform():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 10)).astype(np.float32)
    labels = np.array([0, 3, 9, 3])
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for smoothing in (0.0, 0.1):
        targets = np.full((4, 10), smoothing / 10) + (1 - smoothing) * np.eye(10)[labels]
        expected = -(targets * log_p).sum(-1)
        got = cross_entropy(labels, logits, label_smoothing=smoothing).numpy()
        # float32 log-softmax of values near 1: a few units in the last place.
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_uniform_logits_cost_ln_of_the_class_count_whatever_the_smoothing():
    logits = np.zeros((2, 10), np.float32)
    for smoothing in (0.0, 0.1):
        got = cross_entropy(np.array([1, 2]), logits, label_smoothing=smoothing).numpy()
        assert got == pytest.approx([math.log(10)] * 2, rel=1e-6)


def test_accuracy_is_the_share_of_argmax_hits():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], np.float32)
    assert float(accuracy(np.array([1, 0, 0, 1]), logits)) == 0.5
