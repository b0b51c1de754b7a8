"""The weight optimizer leaves every candidate that did not run bit-identical."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from toy_search import tiny_space

from tfnas.nets import sampling
from tfnas.search.path_optimizer import SampledPathAdam, SampledPathSGD
from tfnas.search.supernet import Supernet

SCHEDULE = [[0, 0], [1, 2], [0, 1], [2, 2], [1, 0]]  # active path per choice block, per step


def _setup(optimizer_factory):
    keras.utils.set_random_seed(0)
    net = Supernet(tiny_space())
    optimizer = optimizer_factory(net)
    optimizer.build(net.trainable_variables)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(8, 8, 8, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 3, 8), tf.int32)

    @tf.function
    def step(active):
        sample = sampling.PathSample(active, tf.fill([2], sampling.NO_PATH))
        with tf.GradientTape() as tape:
            logits = net(images, sample)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        grads = tape.gradient(loss, net.trainable_variables)
        apply = getattr(optimizer, "apply_to_sampled", None)
        if apply is None:  # a stock optimizer, for the control experiment
            optimizer.apply(grads, net.trainable_variables)
        else:
            apply(grads, net.trainable_variables, active)
        return grads

    return net, optimizer, step


def _snapshot(variables):
    return {v.path: v.numpy().copy() for v in variables}


def _slot_owner(slot_path, owners):
    """The (block, candidate) of an optimizer slot, named after its variable by Keras."""
    for path, owner in owners.items():
        if f"{path.replace('/', '_')}_" in slot_path:
            return owner
    return None


def _check_schedule(net, optimizer, step):
    owners = net.candidate_weight_owners()
    ran_once = set()
    for active in SCHEDULE:
        before = _snapshot(net.trainable_variables)
        slots_before = _snapshot(optimizer.variables)
        grads = step(tf.constant(active, tf.int32))
        after = _snapshot(net.trainable_variables)
        for v, g in zip(net.trainable_variables, grads, strict=True):
            owner = owners.get(v.path)
            if owner is None or active[owner[0]] == owner[1]:
                continue
            # The trap: under tf.function the untaken branch's gradient is zeros, not None.
            assert g is not None
            np.testing.assert_array_equal(after[v.path], before[v.path], err_msg=v.path)
        changed = [p for p in after if not np.array_equal(after[p], before[p])]
        # Zero has no weights, so it is absent from the owners.
        expected_owners = {(b, a) for b, a in enumerate(active)} & set(owners.values())
        assert any(owners.get(p) is None for p in changed)  # shared weights train
        assert {owners[p] for p in changed if p in owners} == expected_owners
        ran_once |= expected_owners
        # Slots (momentum, ...) of candidates that did not run stay put as well.
        checked = 0
        for path, value in _snapshot(optimizer.variables).items():
            owner = _slot_owner(path, owners)
            if owner is not None and active[owner[0]] != owner[1]:
                np.testing.assert_array_equal(value, slots_before[path], err_msg=path)
                checked += 1
        assert checked > 0
    assert len(ran_once) >= 4  # the schedule exercised most candidates


def test_sgd_with_momentum_and_weight_decay_moves_only_the_sampled_paths():
    def factory(net):
        return SampledPathSGD(
            0.1,
            momentum=0.9,
            nesterov=True,
            l2=1e-2,
            weight_decay=1e-2,
            candidate_owners=net.candidate_weight_owners(),
        )

    _check_schedule(*_setup(factory))


def test_adam_moves_only_the_sampled_paths():
    def factory(net):
        return SampledPathAdam(0.01, candidate_owners=net.candidate_weight_owners())

    _check_schedule(*_setup(factory))


def test_a_stock_optimizer_would_move_the_unsampled_candidates():
    """The control experiment: momentum alone drifts a candidate after it ran once."""
    net, _, step = _setup(lambda net: keras.optimizers.SGD(0.1, momentum=0.9))
    owners = net.candidate_weight_owners()
    step(tf.constant([0, 0]))  # candidate (0, 0) runs and gets momentum
    before = _snapshot(net.trainable_variables)
    step(tf.constant([1, 1]))  # it does not run now
    drifted = [
        v.path
        for v in net.trainable_variables
        if owners.get(v.path) == (0, 0) and not np.array_equal(v.numpy(), before[v.path])
    ]
    assert drifted


def test_owners_must_be_among_the_variables():
    net = Supernet(tiny_space())
    optimizer = SampledPathSGD(0.1, candidate_owners={"nowhere/kernel": (0, 0)})
    with pytest.raises(ValueError, match="'nowhere/kernel'"):
        optimizer.build(net.trainable_variables)


def test_negative_l2_is_rejected():
    with pytest.raises(ValueError, match="l2 must be >= 0, got -1"):
        SampledPathSGD(0.1, l2=-1.0)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_updates_shared_weights_exactly_as_keras_sgd(nesterov):
    grads = [tf.constant([0.5, -1.0, 2.0]), tf.constant([0.1, 0.3, -0.2])] * 2
    ours, theirs = tf.Variable([1.0, 2.0, 3.0]), tf.Variable([1.0, 2.0, 3.0])
    sampled = SampledPathSGD(0.1, momentum=0.9, nesterov=nesterov)
    stock = keras.optimizers.SGD(0.1, momentum=0.9, nesterov=nesterov)
    for grad in grads:
        sampled.apply_to_sampled([grad], [ours], tf.constant([0]))
        stock.apply([grad], [theirs])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_only_the_shared_weights_and_the_sampled_candidates_run_an_update(monkeypatch):
    # Not merely left unchanged: the update ops of a candidate that did not
    # run are never executed (one switch_case per block, not a mask each).
    net = Supernet(tiny_space())
    owners = net.candidate_weight_owners()
    optimizer = SampledPathSGD(0.1, momentum=0.9, candidate_owners=owners)
    optimizer.build(net.trainable_variables)
    updated = []
    original = SampledPathSGD.update_step

    def spy(self, gradient, variable, learning_rate):
        updated.append(net.trainable_variables[self._get_variable_index(variable)].path)
        return original(self, gradient, variable, learning_rate)

    monkeypatch.setattr(SampledPathSGD, "update_step", spy)
    active = [1, 2]
    grads = [tf.ones_like(v) for v in net.trainable_variables]
    optimizer.apply_to_sampled(grads, net.trainable_variables, tf.constant(active))  # eager
    expected = [
        v.path
        for v in net.trainable_variables
        if owners.get(v.path) is None or active[owners[v.path][0]] == owners[v.path][1]
    ]
    assert sorted(updated) == sorted(expected)
    assert len(expected) < len(net.trainable_variables)
