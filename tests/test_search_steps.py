"""Weight and arch steps: what they may change, where they move alpha, distribution."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from commands import HANG_GUARD_S
from conftest import REPO_ROOT
from toy_search import (
    KERNEL_TASK_BEST,
    kernel_task_data,
    kernel_task_space,
    tiny_space,
)

from tfnas.nets import sampling
from tfnas.search.arch_adam import ReferenceAdam
from tfnas.search.path_optimizer import SampledPathSGD
from tfnas.search.steps import ARCH_MODES, SearchSteps
from tfnas.search.supernet import ArchParameters, Supernet


def _steps(space, mode, seed=0, weights=None, init="glorot", **kwargs):
    # The toy tasks' step counts were sized with Keras' Glorot initialization, on both
    # oneDNN settings; under He fan-out the kernel task's 5x5 path reached 0.77 with
    # oneDNN off and over 0.95 with it on in its 240 warmup steps: too close to call.
    keras.utils.set_random_seed(seed)
    net = Supernet(space, init=init)
    if weights is not None:
        net.set_weights(weights)
    arch = ArchParameters(net.num_candidates, seed=seed)
    weight_optimizer = SampledPathSGD(
        kwargs.pop("learning_rate", 0.1),
        momentum=0.9,
        nesterov=True,
        l2=1e-4,
        candidate_owners=net.candidate_weight_owners(),
    )
    arch_optimizer = keras.optimizers.Adam(kwargs.pop("arch_learning_rate", 0.05), beta_1=0.0)
    return SearchSteps(net, arch, weight_optimizer, arch_optimizer, mode=mode, **kwargs)


def _tiny_batch(seed=0, size=16):
    rng = np.random.default_rng(seed)
    images = tf.constant(rng.normal(size=(size, 8, 8, 3)), tf.float32)
    return images, tf.constant(rng.integers(0, 3, size), tf.int32)


def _values(variables):
    return {v.path: v.numpy().copy() for v in variables}


def test_weight_steps_change_only_the_sampled_candidates_and_never_alpha():
    steps = _steps(tiny_space(), "full_v2", label_smoothing=0.1)
    net, owners = steps.supernet, steps.supernet.candidate_weight_owners()
    alphas = [a.numpy().copy() for a in steps.arch.alphas]
    seen = set()
    for step in range(6):
        before = _values(net.trainable_variables)
        out = steps.weight_step(*_tiny_batch(step), tf.constant([step, 0]), uniform=step < 3)
        active = out["active"].numpy()
        assert np.isfinite(out["loss"].numpy())
        for v in net.trainable_variables:
            owner = owners.get(v.path)
            if owner is not None and active[owner[0]] != owner[1]:
                np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)
        seen |= {(b, int(a)) for b, a in enumerate(active)}
    assert len(seen) >= 4
    for a, before in zip(steps.arch.alphas, alphas, strict=True):
        np.testing.assert_array_equal(a.numpy(), before)


def test_one_compiled_weight_step_samples_uniformly_or_from_alpha():
    steps = _steps(tiny_space(), "full_v2")
    for alpha in steps.arch.alphas:
        alpha.assign(tf.one_hot(0, alpha.shape[0]) * 30.0)  # alpha says: always op 0
    picked = set()
    for step in range(8):
        seed = tf.constant([step, 0])
        warm = steps.weight_step(*_tiny_batch(step), seed, uniform=tf.constant(True))
        expected = sampling.sample_uniform(steps.supernet.num_candidates, seed).active
        np.testing.assert_array_equal(warm["active"].numpy(), expected.numpy())
        picked |= set(warm["active"].numpy().tolist())
        searched = steps.weight_step(*_tiny_batch(step), seed, uniform=tf.constant(False))
        assert searched["active"].numpy().tolist() == [0, 0]
    assert len(picked) > 1
    assert steps.weight_step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("mode", ARCH_MODES)
def test_arch_steps_change_only_alpha(mode):
    steps = _steps(tiny_space(), mode)
    before = _values(steps.supernet.variables)  # weights and BN statistics
    alphas = [a.numpy().copy() for a in steps.arch.alphas]
    for step in range(3):
        out = steps.arch_step(*_tiny_batch(step), tf.constant([step, 1]))
        assert np.isfinite(out["loss"].numpy())
    for v in steps.supernet.variables:
        np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)
    assert any(
        not np.array_equal(a.numpy(), b) for a, b in zip(steps.arch.alphas, alphas, strict=True)
    )


def test_two_mode_keeps_the_probabilities_of_the_ops_it_did_not_sample():
    steps = _steps(tiny_space(), "two", arch_learning_rate=0.3)
    for step in range(3):
        before = [tf.nn.softmax(a).numpy() for a in steps.arch.alphas]
        out = steps.arch_step(*_tiny_batch(step), tf.constant([step, 2]))
        after = [tf.nn.softmax(a).numpy() for a in steps.arch.alphas]
        for b, (p_before, p_after) in enumerate(zip(before, after, strict=True)):
            pair = [int(out["active"][b]), int(out["inactive"][b])]
            others = [j for j in range(len(p_before)) if j not in pair]
            np.testing.assert_allclose(p_after[others], p_before[others], rtol=1e-5)
            np.testing.assert_allclose(p_after[pair].sum(), p_before[pair].sum(), rtol=1e-5)


def _sample_reward(logits, labels, sample):
    """A reward known from the sample alone (plus a zero that keeps the logits in the graph)."""
    active = tf.cast(sample.active, tf.float32)
    return 0.1 + 0.2 * active[0] + 0.05 * tf.reduce_sum(active) + 0.0 * tf.reduce_sum(logits)


def _log_prob_gradient(alphas, active):
    """d log p(active) / d alpha, by hand: onehot(active_b) - softmax(alpha_b) per block."""
    grads = []
    for b, alpha in enumerate(alphas):
        p = np.exp(alpha - alpha.max())
        p /= p.sum()
        onehot = np.zeros_like(p)
        onehot[active[b]] = 1.0
        grads.append(onehot - p)
    return grads


def test_a_reinforce_update_is_the_mean_of_its_k_single_sample_updates():
    """The reference's rl_update_step: K networks on one batch; b <- b + 0.99 (mean R - b)
    first; then alpha moves by the mean over k of (R_k - b) grad log p(s_k)."""
    samples, lr, b0 = 6, 0.5, 0.3
    keras.utils.set_random_seed(0)
    net = Supernet(tiny_space())
    arch = ArchParameters(net.num_candidates, init_stddev=0.5, seed=0)
    steps = SearchSteps(
        net,
        arch,
        SampledPathSGD(0.1, candidate_owners=net.candidate_weight_owners()),
        keras.optimizers.SGD(lr),  # linear in the gradient, so the update can be read off
        mode="reinforce",
        reward_fn=_sample_reward,
        samples=samples,
    )
    steps.baseline.assign(b0)
    steps.baseline_ready.assign(True)
    before = [a.numpy().astype(np.float64) for a in arch.alphas]
    out = steps.arch_step(*_tiny_batch(0), tf.constant([7, 1]))
    actives = out["actives"].numpy()
    rewards = out["rewards"].numpy().astype(np.float64)
    assert actives.shape == (samples, len(before))
    assert len({tuple(a) for a in actives}) > 1  # K different networks, not one K times
    expected_rewards = [0.1 + 0.2 * a[0] + 0.05 * a.sum() for a in actives]
    np.testing.assert_allclose(rewards, expected_rewards, rtol=1e-6)
    baseline = b0 + 0.99 * (rewards.mean() - b0)
    np.testing.assert_allclose(float(out["baseline"]), baseline, rtol=1e-6)
    np.testing.assert_allclose(float(steps.baseline.numpy()), baseline, rtol=1e-6)
    singles = [
        [lr * (r - baseline) * g for g in _log_prob_gradient(before, a)]
        for r, a in zip(rewards, actives, strict=True)
    ]
    for b, alpha in enumerate(arch.alphas):
        expected = before[b] + np.mean([single[b] for single in singles], axis=0)
        # float32 softmax and updates on values of order 1: 1e-5 relative is
        # float32 round-off with headroom, far below one sample's share (1/K).
        np.testing.assert_allclose(alpha.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_reinforce_baseline_rules_start_at_the_first_mean_and_differ_in_what_they_use():
    for rule in ("reference", "previous"):
        keras.utils.set_random_seed(0)
        steps = _steps(
            tiny_space(),
            "reinforce",
            reward_fn=_sample_reward,
            samples=4,
            baseline_rule=rule,
            baseline_weight=0.5,
        )
        first = steps.arch_step(*_tiny_batch(0), tf.constant([0, 3]))
        mean1 = float(first["reward"])
        np.testing.assert_allclose(float(steps.baseline.numpy()), mean1, rtol=1e-6)
        second = steps.arch_step(*_tiny_batch(1), tf.constant([1, 3]))
        mean2 = float(second["reward"])
        updated = mean1 + 0.5 * (mean2 - mean1)
        np.testing.assert_allclose(float(steps.baseline.numpy()), updated, rtol=1e-6)
        used = updated if rule == "reference" else mean1
        np.testing.assert_allclose(float(second["baseline"]), used, rtol=1e-6)
        np.testing.assert_allclose(float(second["advantage"]), mean2 - used, rtol=1e-5, atol=1e-7)


def test_a_positive_advantage_makes_every_sampled_path_more_likely():
    # A baseline below every reward, kept there by a tiny weight: a positive advantage.
    steps = _steps(
        tiny_space(), "reinforce", reward_fn=_sample_reward, samples=1, baseline_weight=1e-6
    )
    steps.baseline.assign(-1.0)
    steps.baseline_ready.assign(True)
    before = [tf.nn.softmax(a).numpy() for a in steps.arch.alphas]
    out = steps.arch_step(*_tiny_batch(0), tf.constant([2, 3]))
    for b, a in enumerate(steps.arch.alphas):
        chosen = int(out["active"][b])
        assert tf.nn.softmax(a).numpy()[chosen] > before[b][chosen]


def test_a_term_in_alpha_joins_the_arch_objective():
    """What a latency loss does: a penalty on op 0 of block 0 drives its probability down."""

    def objective(ce, alphas, probabilities):
        return ce + 5.0 * probabilities[0][0]

    steps = _steps(tiny_space(), "full_v2", arch_objective=objective)
    p_before = tf.nn.softmax(steps.arch.alphas[0]).numpy()[0]
    for step in range(10):
        steps.arch_step(*_tiny_batch(step), tf.constant([step, 4]))
    assert tf.nn.softmax(steps.arch.alphas[0]).numpy()[0] < p_before - 0.1


def test_constructor_rejects_what_would_train_wrongly():
    net = Supernet(tiny_space())
    arch = ArchParameters(net.num_candidates)
    adam = keras.optimizers.Adam(0.01)
    with pytest.raises(ValueError, match="mode must be one of"):
        SearchSteps(net, arch, SampledPathSGD(0.1), adam, mode="darts")
    with pytest.raises(TypeError, match="must update only the sampled paths, got SGD"):
        SearchSteps(net, arch, keras.optimizers.SGD(0.1), adam)
    with pytest.raises(ValueError, match=r"\[3, 4\] candidates per block"):
        SearchSteps(net, ArchParameters([3, 4]), SampledPathSGD(0.1), adam)


# -- A task whose best op is known ---------------------------------------------


@pytest.fixture(scope="module")
def kernel_task():
    """A supernet whose weights were warmed up on uniformly sampled paths."""
    images, labels = kernel_task_data(2048, seed=0)
    valid = kernel_task_data(512, seed=1)
    steps = _steps(kernel_task_space(), "full_v2")
    for step in range(240):
        start = (step * 64) % len(images)
        batch = images[start : start + 64], labels[start : start + 64]
        steps.weight_step(*batch, tf.constant([step, 0]), uniform=True)
    accuracy = [float(steps.evaluate(*valid, tf.constant([op]))["accuracy"]) for op in range(3)]
    return steps.supernet.get_weights(), (images, labels), valid, accuracy


def test_only_the_5x5_path_learns_the_kernel_task(kernel_task):
    *_, accuracy = kernel_task
    assert accuracy[KERNEL_TASK_BEST] > 0.95
    assert max(accuracy[0], accuracy[2]) < 0.75


@pytest.mark.parametrize("mode", ARCH_MODES)
def test_arch_steps_move_alpha_to_the_op_that_sees_the_signal(kernel_task, mode):
    weights, (images, labels), (valid_images, valid_labels), _ = kernel_task
    steps = _steps(kernel_task_space(), mode, weights=weights)
    p_start = tf.nn.softmax(steps.arch.alphas[0]).numpy()[KERNEL_TASK_BEST]
    for step in range(60):
        start = (step * 64) % len(images)
        steps.weight_step(
            images[start : start + 64], labels[start : start + 64], tf.constant([1000 + step, 0])
        )
        start = (step * 64) % len(valid_images)
        steps.arch_step(
            valid_images[start : start + 64],
            valid_labels[start : start + 64],
            tf.constant([step, 1]),
        )
    p = tf.nn.softmax(steps.arch.alphas[0]).numpy()
    assert np.argmax(p) == KERNEL_TASK_BEST, p
    assert p[KERNEL_TASK_BEST] > max(0.5, p_start + 0.15), p


# -- tf.distribute ---------------------------------------------------------------

MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    sys.path.insert(0, "tests")
    from toy_search import tiny_space
    from tfnas.search.path_optimizer import SampledPathSGD
    from tfnas.search.steps import SearchSteps
    from tfnas.search.supernet import ArchParameters, Supernet

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.normal(size=(64, 8, 8, 3)).astype("float32"), rng.integers(0, 3, 64).astype("int32"))
    ).batch(16).repeat()
    batches = iter(strategy.experimental_distribute_dataset(data))
    report = {"replicas": strategy.num_replicas_in_sync}
    for mode in ("two", "full_v2", "full", "reinforce"):
        with strategy.scope():
            net = Supernet(tiny_space())
            arch = ArchParameters(net.num_candidates, seed=0)
            weights_opt = SampledPathSGD(
                0.1, momentum=0.9, candidate_owners=net.candidate_weight_owners()
            )
            arch_opt = keras.optimizers.Adam(0.05, beta_1=0.0)
        steps = SearchSteps(net, arch, weights_opt, arch_opt, mode=mode, strategy=strategy)
        owners = net.candidate_weight_owners()
        moved_unsampled, losses = 0, []
        for step in range(3):
            before = {v.path: v.numpy().copy() for v in net.trainable_variables}
            out = steps.weight_step(*next(batches), tf.constant([step, 0]))
            losses.append(float(out["loss"]))
            active = out["active"].numpy()
            for v in net.trainable_variables:
                owner = owners.get(v.path)
                if owner and active[owner[0]] != owner[1]:
                    moved_unsampled += not np.array_equal(v.numpy(), before[v.path])
        alphas = [a.numpy().copy() for a in arch.alphas]
        for step in range(3):
            out = steps.arch_step(*next(batches), tf.constant([step, 1]))
            losses.append(float(out["loss"]))
        in_sync = all(
            all(np.array_equal(c.numpy(), v.value.values[0].numpy()) for c in v.value.values)
            for v in [*net.trainable_variables, *arch.alphas]
        )
        report[mode] = {
            "finite": bool(np.all(np.isfinite(losses))),
            "moved_unsampled": int(moved_unsampled),
            "alpha_changed": any(
                not np.array_equal(a.numpy(), b) for a, b in zip(arch.alphas, alphas)
            ),
            "replicas_in_sync": bool(in_sync),
            "copies": len(net.trainable_variables[0].value.values),
        }
    print("REPORT " + json.dumps(report))
    """
)


def test_steps_run_under_mirrored_strategy_on_two_logical_cpus():
    # Logical devices must be configured before TensorFlow starts: a fresh process.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT ") :])
    assert report["replicas"] == 2
    for mode in ("two", "full_v2", "full", "reinforce"):
        assert report[mode] == {
            "finite": True,
            "moved_unsampled": 0,
            "alpha_changed": True,
            "replicas_in_sync": True,
            "copies": 2,
        }, mode


@pytest.mark.parametrize("mode", ["two", "full_v2"])
def test_a_block_whose_sampled_path_is_zero_skips_its_update_as_the_reference(mode):
    """Block 1 of tiny_space offers Zero (candidate 2): on a step that samples it there,
    `skip` leaves that block's logits as they were (the reference's mix_op sets their
    gradient to None); `update` moves them with the estimator."""
    moved = {}
    for rule in ("skip", "update"):
        steps = _steps(tiny_space(), mode, zero_sampled=rule)
        moved[rule] = []
        for step in range(40):
            before = [a.numpy().copy() for a in steps.arch.alphas]
            out = steps.arch_step(*_tiny_batch(step), tf.constant([step, 11]))
            if int(out["active"][1]) == 2:
                after = steps.arch.alphas[1].numpy()
                moved[rule].append(not np.array_equal(after, before[1]))
                # The other block still learns on that step.
                assert not np.array_equal(steps.arch.alphas[0].numpy(), before[0])
    assert moved["skip"] and not any(moved["skip"])
    assert moved["update"] and all(moved["update"])


@pytest.mark.parametrize("mode", ["two", "full_v2"])
def test_with_reference_adam_a_skipped_block_keeps_its_moments_and_step_count(mode):
    """As PyTorch with a None gradient: not only the logits, the optimizer's state too."""
    keras.utils.set_random_seed(0)
    net = Supernet(tiny_space())
    arch = ArchParameters(net.num_candidates, seed=0)
    optimizer = ReferenceAdam(0.05, beta_1=0.0)
    steps = SearchSteps(
        net,
        arch,
        SampledPathSGD(0.1, candidate_owners=net.candidate_weight_owners()),
        optimizer,
        mode=mode,
    )
    skipped_steps = 0
    for step in range(40):
        state = [v.numpy().copy() for v in (*arch.alphas, *optimizer.variables)]
        out = steps.arch_step(*_tiny_batch(step), tf.constant([step, 11]))
        if int(out["active"][1]) != 2:
            continue
        skipped_steps += 1
        index = optimizer._get_variable_index(arch.alphas[1])
        block_state = [arch.alphas[1], optimizer._momentums[index]]
        block_state += [optimizer._velocities[index], optimizer._steps[index]]
        old = dict(zip([v.path for v in (*arch.alphas, *optimizer.variables)], state, strict=True))
        for variable in block_state:
            np.testing.assert_array_equal(variable.numpy(), old[variable.path])
        assert not np.array_equal(arch.alphas[0].numpy(), old[arch.alphas[0].path])
    assert skipped_steps > 0


def test_an_unknown_zero_rule_is_refused():
    with pytest.raises(ValueError, match="zero_sampled must be one of"):
        _steps(tiny_space(), "two", zero_sampled="sometimes")
