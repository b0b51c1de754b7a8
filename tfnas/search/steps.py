"""The compiled steps of a search: weight step, arch step (four modes), evaluation.

Each step samples its paths in the cross-replica context, from the
architecture logits and a stateless seed, and hands the same sample to every
replica; so under a `tf.distribute` strategy all replicas run the same
network, and their gradients can be summed.

- weight step: one path per block, sampled from p (or uniformly during the
  warmup); cross-entropy on a training batch; only the sampled candidates'
  weights change (`SampledPathsMixin`).
- arch step, gradient modes `two`, `full_v2`, `full`: the binary-gate
  estimator of the paper (see `tfnas.sampling`); batch statistics in batch
  norm, moving averages untouched; the objective is cross-entropy on a
  validation batch, optionally combined with a term in alpha (latency).
- arch step, `reinforce`: one path per block, a reward for the sampled
  network (no gradient through it), the policy gradient
  -(R - b) * grad log p(sample), with b a moving average of the rewards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfnas import sampling
from tfnas.losses import ArchObjective, RewardFn, accuracy, cross_entropy
from tfnas.search.path_optimizer import SampledPathsMixin
from tfnas.search.supernet import ArchParameters, Supernet

GRADIENT_MODES = ("two", "full_v2", "full")
# A block whose sampled path is Zero: `skip` its alpha update on that step (the
# reference: its mixed op is not run, and its alpha gradient is None), or
# `update` it with the estimator like any other path (NNI, and tfnas until
# 2026-12-03).
ZERO_RULES = ("skip", "update")
ARCH_MODES = (*GRADIENT_MODES, "reinforce")


def accuracy_reward(logits: tf.Tensor, labels: tf.Tensor, sample: sampling.PathSample) -> tf.Tensor:
    """The default REINFORCE reward: the sampled network's accuracy on the batch."""
    del sample
    return accuracy(labels, logits)


def cross_entropy_only(
    ce: tf.Tensor, alphas: Sequence[tf.Tensor], probabilities: Sequence[tf.Tensor] = ()
) -> tf.Tensor:
    """The default arch objective: the validation cross-entropy alone."""
    del alphas, probabilities
    return ce


class SearchSteps:
    """Weight and architecture steps of one supernet, compiled with `tf.function`.

    Build the supernet, the arch parameters and both optimizers under
    `strategy.scope()` (this constructor builds the optimizers there).

    Args:
        supernet: The supernet.
        arch: Its architecture parameters.
        weight_optimizer: Optimizer of the network weights; must restrict
            updates to the sampled paths (`SampledPathSGD`, ...).
        arch_optimizer: Optimizer of alpha (the paper: Adam, beta_1=0, so a
            logit that gets no gradient does not move).
        mode: One of `ARCH_MODES`.
        strategy: A `tf.distribute` strategy (default: the current one).
        label_smoothing: Label smoothing of the weight steps' cross-entropy.
        arch_objective: (validation cross-entropy, alphas, op probabilities)
            -> loss of the gradient modes; a latency-aware loss goes here. The
            probabilities are softmax(alpha), or in `two` mode those over the
            sampled pair (`sampling.pair_probabilities`).
        reward_fn: (logits, labels, sample) -> scalar reward of `reinforce`.
        baseline_decay: Decay of the rewards' moving-average baseline.
        zero_sampled: What a block whose sampled path is Zero does in a
            gradient mode's arch step (`ZERO_RULES`): `skip` its update, or
            `update` it like any other block.
    """

    def __init__(
        self,
        supernet: Supernet,
        arch: ArchParameters,
        weight_optimizer: SampledPathsMixin,
        arch_optimizer: Any,
        mode: str = "full_v2",
        strategy: tf.distribute.Strategy | None = None,
        label_smoothing: float = 0.0,
        arch_objective: ArchObjective = cross_entropy_only,
        reward_fn: RewardFn = accuracy_reward,
        baseline_decay: float = 0.9,
        zero_sampled: str = "skip",
    ) -> None:
        if mode not in ARCH_MODES:
            raise ValueError(f"mode must be one of {ARCH_MODES}, got {mode!r}")
        if zero_sampled not in ZERO_RULES:
            raise ValueError(f"zero_sampled must be one of {ZERO_RULES}, got {zero_sampled!r}")
        if not isinstance(weight_optimizer, SampledPathsMixin):
            raise TypeError(
                f"the weight optimizer must update only the sampled paths, got "
                f"{type(weight_optimizer).__name__}; use tfnas.search.path_optimizer.SampledPathSGD"
            )
        if arch.num_candidates != supernet.num_candidates:
            raise ValueError(
                f"arch parameters have {arch.num_candidates} candidates per block, the "
                f"supernet {supernet.num_candidates}"
            )
        if not 0.0 <= baseline_decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1), got {baseline_decay}")
        self.supernet = supernet
        self.arch = arch
        self.weight_optimizer = weight_optimizer
        self.arch_optimizer = arch_optimizer
        self.mode = mode
        self.strategy = strategy or tf.distribute.get_strategy()
        self.label_smoothing = label_smoothing
        self.arch_objective = arch_objective
        self.reward_fn = reward_fn
        self.baseline_decay = baseline_decay
        self.zero_sampled = zero_sampled
        # Per choice block, the candidate index of Zero (-1: none), for the Zero rule.
        self.zero_index = [
            next((i for i, op in enumerate(m.choice.candidates) if op.outputs_zero), -1)
            for m in supernet.mixed_ops
        ]
        with self.strategy.scope():
            weight_optimizer.build(supernet.trainable_variables)
            arch_optimizer.build(arch.trainable_variables)
            self.baseline = tf.Variable(0.0, trainable=False, name="reward_baseline")
            self.baseline_ready = tf.Variable(False, trainable=False, name="baseline_ready")
        self.weight_step = tf.function(self._weight_step)
        self.arch_step = tf.function(self._arch_step)
        self.evaluate = tf.function(self._evaluate)

    # -- weight step ---------------------------------------------------------

    def _weight_step(
        self, images: Any, labels: Any, seed: tf.Tensor, uniform: bool = False
    ) -> dict[str, tf.Tensor]:
        """One weight step on a training batch.

        Args:
            images: Images (a tensor, or per-replica values of a distributed dataset).
            labels: Integer labels, likewise.
            seed: Stateless seed [2] of the path sample.
            uniform: Sample paths uniformly (the warmup) instead of from p. Pass
                a bool tensor to share one compiled step between warmup and search.

        Returns:
            `loss` (cross-entropy), `accuracy` and the sampled `active` paths.
        """
        # Uniform sampling is sampling from all-zero logits (`sample_uniform`).
        uniform = tf.convert_to_tensor(uniform, tf.bool)
        logits = [
            tf.where(uniform, tf.zeros_like(a), tf.convert_to_tensor(a)) for a in self.arch.alphas
        ]
        sample = sampling.sample_one(logits, seed)
        replicas = self.strategy.num_replicas_in_sync

        def replica_step(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            weights = self.supernet.trainable_variables
            with tf.GradientTape() as tape:
                logits = self.supernet(images, sample, mode="one", bn_mode="update")
                ce = tf.reduce_mean(cross_entropy(labels, logits, self.label_smoothing))
                # Gradients are summed over replicas.
                loss = ce / replicas
            grads = tape.gradient(loss, weights)
            self.weight_optimizer.apply_to_sampled(grads, weights, sample.active)
            return ce, accuracy(labels, logits)

        ce, acc = self.strategy.run(replica_step, (images, labels))
        return {
            "loss": self._mean(ce),
            "accuracy": self._mean(acc),
            "active": sample.active,
        }

    # -- arch step -----------------------------------------------------------

    def _arch_step(self, images: Any, labels: Any, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        """One update of alpha on a validation batch, in this object's mode.

        Returns:
            `loss` (the objective, or minus the reward in `reinforce`),
            `cross_entropy` or `reward`, `accuracy`, and the sampled paths
            (`active`, and in gradient modes `inactive`).
        """
        if self.mode == "reinforce":
            return self._reinforce_step(images, labels, seed)
        alphas = self.arch.alphas
        two = self.mode == "two"
        before = [tf.identity(a) for a in alphas]
        sample = sampling.sample_two(alphas, seed) if two else sampling.sample_one(alphas, seed)
        # The Zero rule (`skip`, the reference): a block whose sampled path is
        # Zero takes no alpha update on this step.
        skipped = [
            tf.logical_and(self.zero_sampled == "skip", tf.equal(sample.active[b], zero))
            for b, zero in enumerate(self.zero_index)
        ]
        replicas = self.strategy.num_replicas_in_sync

        def replica_step(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
            with tf.GradientTape() as tape:
                gates = sampling.binary_gates(alphas, sample, renormalize=two)
                logits = self.supernet(images, sample, gates=gates, mode=self.mode, bn_mode="batch")
                ce = tf.reduce_mean(cross_entropy(labels, logits))
                values = [tf.convert_to_tensor(a) for a in alphas]
                # The latency term weighs by the ops the step can move: the
                # sampled pair in `two` (so the rescale keeps every other op's
                # probability, as the reference), every op otherwise.
                if two:
                    probabilities = sampling.pair_probabilities(values, sample)
                else:
                    probabilities = [tf.nn.softmax(a) for a in values]
                objective = self.arch_objective(ce, values, probabilities)
                loss = objective / replicas
            grads = [
                tf.where(skip, tf.zeros_like(g), g)
                for skip, g in zip(skipped, tape.gradient(loss, alphas), strict=True)
            ]
            self.arch_optimizer.apply(grads, alphas)
            return objective, ce, accuracy(labels, logits)

        objective, ce, acc = self.strategy.run(replica_step, (images, labels))
        # A zero gradient moves nothing with the paper's beta_1 = 0; with momentum
        # it would, so a skipped block gets its logits back.
        for alpha, old, skip in zip(alphas, before, skipped, strict=True):
            alpha.assign(tf.where(skip, old, alpha))
        if two:
            for alpha, rescaled in zip(
                alphas, sampling.rescale_two(before, alphas, sample), strict=True
            ):
                alpha.assign(rescaled)
        return {
            "loss": self._mean(objective),
            "cross_entropy": self._mean(ce),
            "accuracy": self._mean(acc),
            "active": sample.active,
            "inactive": sample.inactive,
        }

    def _reinforce_step(self, images: Any, labels: Any, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        alphas = self.arch.alphas
        sample = sampling.sample_one(alphas, seed)

        def replica_reward(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            logits = self.supernet(images, sample, mode="one", bn_mode="batch")
            return self.reward_fn(logits, labels, sample), accuracy(labels, logits)

        rewards, acc = self.strategy.run(replica_reward, (images, labels))
        reward = self._mean(rewards)
        # The baseline does not depend on this sample, so the estimate stays unbiased.
        baseline = tf.cond(self.baseline_ready, lambda: self.baseline.read_value(), lambda: reward)
        advantage = tf.stop_gradient(reward - baseline)
        with tf.GradientTape() as tape:
            loss = -advantage * sampling.log_prob(alphas, sample.active)
        self.arch_optimizer.apply(tape.gradient(loss, alphas), alphas)
        self.baseline.assign(self.baseline_decay * baseline + (1.0 - self.baseline_decay) * reward)
        self.baseline_ready.assign(True)
        return {
            "loss": -reward,
            "reward": reward,
            "advantage": advantage,
            "accuracy": self._mean(acc),
            "active": sample.active,
        }

    # -- evaluation ----------------------------------------------------------

    def _evaluate(
        self, images: Any, labels: Any, active: tf.Tensor, bn_mode: str = "moving"
    ) -> dict[str, tf.Tensor]:
        """Loss and accuracy of the network `active`, without dropout.

        Args:
            images: Images, likewise.
            labels: Labels, likewise.
            active: One candidate index per choice block.
            bn_mode: `moving` (the supernet's moving statistics, which mix every
                path that ran) or `batch` (the batch's own statistics: closer
                to what the derived network gets once its statistics are its own).
        """
        sample = sampling.PathSample(
            tf.cast(active, tf.int32), tf.fill(tf.shape(active), sampling.NO_PATH)
        )

        def replica_eval(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            logits = self.supernet(images, sample, mode="one", bn_mode=bn_mode, dropout=False)
            return tf.reduce_mean(cross_entropy(labels, logits)), accuracy(labels, logits)

        ce, acc = self.strategy.run(replica_eval, (images, labels))
        return {"loss": self._mean(ce), "accuracy": self._mean(acc)}

    def _mean(self, value: Any) -> tf.Tensor:
        """Mean over replicas of a per-replica scalar."""
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
