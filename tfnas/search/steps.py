"""The compiled steps of a search: weight step, arch step (four modes), evaluation.

Each step samples its paths in the cross-replica context, from the
architecture logits and a stateless seed, and hands the same sample to every
replica; so under a `tf.distribute` strategy all replicas run the same
network, and their gradients can be summed.

- weight step: one path per block, sampled from p (or uniformly during the
  warmup); cross-entropy on a training batch; only the sampled candidates'
  weights change (`SampledPathsMixin`).
- arch step, gradient modes `two`, `full_v2`, `full`: the binary-gate
  estimator of the paper (see `tfnas.nets.sampling`); batch statistics in batch
  norm, moving averages untouched; the objective is cross-entropy on a
  validation batch, optionally combined with a term in alpha (latency).
- arch step, `reinforce` (the reference's RL search): K networks sampled
  from p, each scored on the same validation batch (no gradient through the
  reward); alpha moves along the mean of (R_k - b) * grad log p(sample_k),
  with b a baseline of the rewards (`BASELINE_RULES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfnas.engine.losses import ArchObjective, RewardFn, accuracy, cross_entropy
from tfnas.nets import sampling
from tfnas.search.arch_adam import ReferenceAdam
from tfnas.search.path_optimizer import SampledPathsMixin
from tfnas.search.supernet import ArchParameters, Supernet

GRADIENT_MODES = ("two", "full_v2", "full")
# A block whose sampled path is Zero: `skip` its alpha update on that step (the
# reference: its mixed op is not run, and its alpha gradient is None), or
# `update` it with the estimator like any other path (NNI, and tfnas until
# 2026-12-03).
ZERO_RULES = ("skip", "update")
ARCH_MODES = (*GRADIENT_MODES, "reinforce")
# The REINFORCE baseline b, updated once per arch step from the mean reward of
# its K samples: b <- b + weight * (mean - b) (the first step: b <- mean).
# `reference` (nas_manager.rl_update_step) updates b first and weighs the
# samples by R_k - b with the new b; `previous` weighs them by the b of the
# earlier steps, which does not depend on this step's samples (unbiased).
BASELINE_RULES = ("reference", "previous")


def accuracy_reward(logits: tf.Tensor, labels: tf.Tensor, sample: sampling.PathSample) -> tf.Tensor:
    """The default REINFORCE reward: the sampled network's accuracy on the batch."""
    del sample
    return accuracy(labels, logits)


def next_baseline(
    baseline: tf.Tensor, ready: tf.Tensor, mean_reward: tf.Tensor, weight: float
) -> tf.Tensor:
    """The baseline after a step whose K rewards average `mean_reward`."""
    return tf.where(ready, baseline + weight * (mean_reward - baseline), mean_reward)


def policy_gradient(
    alphas: Sequence[tf.Variable], actives: tf.Tensor, advantages: tf.Tensor
) -> list[tf.Tensor]:
    """The REINFORCE gradient of alpha: -mean_k advantage_k * grad log p(sample_k).

    Args:
        alphas: The logits, one vector per choice block.
        actives: [K, blocks] sampled candidate indices.
        advantages: [K] reward minus baseline of each sample (constants).
    """
    with tf.GradientTape() as tape:
        log_probs = tf.stack(
            [sampling.log_prob(alphas, actives[k]) for k in range(actives.shape[0])]
        )
        loss = -tf.reduce_mean(tf.stop_gradient(advantages) * log_probs)
    return tape.gradient(loss, alphas)


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
        arch_optimizer: Optimizer of alpha (the paper: Adam, beta_1=0;
            `ReferenceAdam` computes it as the reference's PyTorch does).
        mode: One of `ARCH_MODES`.
        strategy: A `tf.distribute` strategy (default: the current one).
        label_smoothing: Label smoothing of the weight steps' cross-entropy.
        arch_objective: (validation cross-entropy, alphas, op probabilities)
            -> loss of the gradient modes; a latency-aware loss goes here. The
            probabilities are softmax(alpha), or in `two` mode those over the
            sampled pair (`sampling.pair_probabilities`).
        reward_fn: (logits, labels, sample) -> scalar reward of `reinforce`.
        samples: Networks sampled per `reinforce` step (the reference: 10).
        baseline_rule: One of `BASELINE_RULES`.
        baseline_weight: Weight of a step's mean reward in the baseline (the
            reference: 0.99).
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
        samples: int = 10,
        baseline_rule: str = "reference",
        baseline_weight: float = 0.99,
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
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        if baseline_rule not in BASELINE_RULES:
            raise ValueError(
                f"baseline_rule must be one of {BASELINE_RULES}, got {baseline_rule!r}"
            )
        if not 0.0 < baseline_weight <= 1.0:
            raise ValueError(f"baseline_weight must be in (0, 1], got {baseline_weight}")
        self.supernet = supernet
        self.arch = arch
        self.weight_optimizer = weight_optimizer
        self.arch_optimizer = arch_optimizer
        self.mode = mode
        self.strategy = strategy or tf.distribute.get_strategy()
        self.label_smoothing = label_smoothing
        self.arch_objective = arch_objective
        self.reward_fn = reward_fn
        self.samples = samples
        self.baseline_rule = baseline_rule
        self.baseline_weight = baseline_weight
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
        # REINFORCE runs its K samples from Python, each through one compiled
        # forward, so the graph holds one copy of the supernet, not K.
        if mode == "reinforce":
            self.arch_step = self._reinforce_step
            self._score_sample = tf.function(self._sample_reward)
            self._policy_update = tf.function(self._apply_policy_gradient)
        else:
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
            grads = tape.gradient(loss, alphas)
            if isinstance(self.arch_optimizer, ReferenceAdam):
                # As PyTorch with a None gradient: logits, moments and step count stay.
                self.arch_optimizer.apply_skipping(grads, alphas, skipped)
            else:
                pairs = zip(skipped, grads, strict=True)
                zeroed = [tf.where(s, tf.zeros_like(g), g) for s, g in pairs]
                self.arch_optimizer.apply(zeroed, alphas)
            return objective, ce, accuracy(labels, logits)

        objective, ce, acc = self.strategy.run(replica_step, (images, labels))
        # Another optimizer: a zero gradient still moves a logit with momentum,
        # so a skipped block gets its logits back.
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
        """One REINFORCE update from `samples` networks scored on one validation batch.

        Returns:
            `loss` (minus the mean reward), `reward` (mean), `rewards` [K],
            `advantage` (mean), `baseline` (the one the update used),
            `accuracy` (mean), `active` (the first sample's paths) and
            `actives` [K, blocks].
        """
        seeds = tf.random.experimental.stateless_split(seed, self.samples)
        scored = [self._score_sample(images, labels, seeds[k]) for k in range(self.samples)]
        rewards = tf.stack([reward for reward, _, _ in scored])
        accuracies = tf.stack([acc for _, acc, _ in scored])
        actives = tf.stack([active for _, _, active in scored])
        out = self._policy_update(actives, rewards)
        return {
            "loss": -out["reward"],
            **out,
            "rewards": rewards,
            "accuracy": tf.reduce_mean(accuracies),
            "active": actives[0],
            "actives": actives,
        }

    def _sample_reward(
        self, images: Any, labels: Any, seed: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(reward, accuracy, active paths) of one network sampled from p with `seed`."""
        sample = sampling.sample_one(self.arch.alphas, seed)

        def replica_reward(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            logits = self.supernet(images, sample, mode="one", bn_mode="batch")
            return self.reward_fn(logits, labels, sample), accuracy(labels, logits)

        rewards, acc = self.strategy.run(replica_reward, (images, labels))
        return self._mean(rewards), self._mean(acc), sample.active

    def _apply_policy_gradient(
        self, actives: tf.Tensor, rewards: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """Updates the baseline by its rule and alpha by the policy gradient of K samples."""
        mean_reward = tf.reduce_mean(rewards)
        updated = next_baseline(
            self.baseline, self.baseline_ready, mean_reward, self.baseline_weight
        )
        if self.baseline_rule == "reference":
            baseline = updated
        else:
            baseline = tf.where(self.baseline_ready, self.baseline.read_value(), mean_reward)
        advantages = rewards - baseline
        grads = policy_gradient(self.arch.alphas, actives, advantages)
        self.arch_optimizer.apply(grads, self.arch.alphas)
        self.baseline.assign(updated)
        self.baseline_ready.assign(True)
        return {
            "reward": mean_reward,
            "advantage": tf.reduce_mean(advantages),
            "baseline": baseline,
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
