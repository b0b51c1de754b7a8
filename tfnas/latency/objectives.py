"""Expected latency of the architecture distribution, and the latency-aware losses and rewards.

E[LAT](alpha) = fixed + sum_blocks sum_ops softmax(alpha_b)_op * LAT_b,op is
differentiable in alpha (Zero costs 0), so a latency term in the arch loss
moves alpha through the same optimizer as the cross-entropy. REINFORCE
scores the sampled network's latency instead.

Losses (gradient modes), by name, with the defaults of the ProxylessNAS and
TuNAS papers (T is the target latency):

- `mul_log`:    alpha_r * CE * (log E[LAT] / log T) ** beta   (alpha_r=0.2, beta=0.3)
- `add_linear`: CE + lam * (E[LAT] - T) / T                   (lam=0.1)
- `hinge`:      CE + lam * max(0, E[LAT] / T - 1)             (lam=0.1)
- `abs`:        CE + lam * |E[LAT] / T - 1|                   (lam=0.5)

`mul_log` and `add_linear` trade accuracy for latency and land wherever that
trade balances; `hinge` is free below T; `abs` (TuNAS' absolute reward as a
loss) pulls E[LAT] to T from both sides, for a search that must hit a target.

Rewards (REINFORCE), by name, each with the source of its constant:

- `proxyless`:  acc * (T / LAT) ** w       (w=0.1: ProxylessNAS, the reference's
                                            `rl_tradeoff_ratio`)
- `mnas`:       acc * (LAT / T) ** w       (w=-0.07: MnasNet, Tan et al. 2019)
- `tunas_abs`:  acc + beta * |LAT / T - 1| (beta=-0.1: TuNAS' absolute reward,
                                            Bender et al. 2020, with this
                                            project's design reference's beta)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfnas.engine.losses import ArchObjective, RewardFn, accuracy
from tfnas.latency.model import SpaceLatency
from tfnas.nets import sampling

LOSS_DEFAULTS: dict[str, dict[str, float]] = {
    "mul_log": {"alpha": 0.2, "beta": 0.3},
    "add_linear": {"lam": 0.1},
    "hinge": {"lam": 0.1},
    "abs": {"lam": 0.5},
}
REWARD_DEFAULTS: dict[str, dict[str, float]] = {
    "proxyless": {"w": 0.1},
    "mnas": {"w": -0.07},
    "tunas_abs": {"beta": -0.1},
}
LOSSES = tuple(LOSS_DEFAULTS)
# What the loss measures: E[LAT], or the derived network's latency (straight-through).
ESTIMATES = ("expected", "derived")
REWARDS = tuple(REWARD_DEFAULTS)


def _check_against(space: SpaceLatency, alphas: Sequence[Any]) -> None:
    if len(alphas) != len(space.candidates):
        raise ValueError(
            f"got {len(alphas)} alpha vectors for a space with {len(space.candidates)} choice "
            "blocks; the latency table and the supernet must come from the same space"
        )


def expected_latency(space: SpaceLatency, alphas: Sequence[tf.Tensor]) -> tf.Tensor:
    """E[LAT] under the op probabilities softmax(alpha_b), differentiable in alpha.

    Args:
        space: Latency of every candidate, from `space_latency`.
        alphas: One logit vector per choice block.

    Returns:
        A float32 scalar in the space's unit.
    """
    probabilities = [tf.nn.softmax(tf.cast(alpha, tf.float32)) for alpha in alphas]
    return latency_under(space, probabilities)


def latency_under(space: SpaceLatency, probabilities: Sequence[tf.Tensor]) -> tf.Tensor:
    """The latency of the space's networks weighed by each block's op `probabilities`.

    E[LAT] when they are softmax(alpha); in `two` mode the arch step weighs by
    the probabilities over the sampled pair (`sampling.pair_probabilities`).
    """
    _check_against(space, probabilities)
    total = tf.constant(space.fixed, tf.float32)
    for p, latencies in zip(probabilities, space.candidates, strict=True):
        if p.shape[-1] != len(latencies):
            raise ValueError(
                f"an alpha vector of {p.shape[-1]} logits for a block of "
                f"{len(latencies)} candidates"
            )
        total += tf.reduce_sum(tf.cast(p, tf.float32) * tf.constant(latencies, tf.float32))
    return total


def derived_latency_estimate(
    space: SpaceLatency,
    alphas: Sequence[tf.Tensor],
    probabilities: Sequence[tf.Tensor] | None = None,
) -> tf.Tensor:
    """The latency of the most likely network in value, with the gradient of E[LAT].

    A straight-through estimate, as the binary gates are: the forward value is
    what `derive` will pick (argmax per block), the backward pass is that of
    the expectation. A loss on it steers the network the search will
    actually output, which E[LAT] alone does not: a block can put most of its
    probability on Zero while the rest sits on costly ops, so the derived
    network ends far below an E[LAT] that sits on the target.

    `probabilities` (default softmax(alpha)) are those of the gradient's
    expectation: in `two` mode, the sampled pair's.
    """
    if probabilities is None:
        probabilities = [tf.nn.softmax(tf.cast(alpha, tf.float32)) for alpha in alphas]
    expected = latency_under(space, probabilities)
    most_likely = tf.stack([tf.argmax(a, output_type=tf.int32) for a in alphas])
    return expected + tf.stop_gradient(sampled_latency(space, most_likely) - expected)


def sampled_latency(space: SpaceLatency, active: tf.Tensor) -> tf.Tensor:
    """The latency of the network that runs candidate `active[b]` in choice block b."""
    per_block = [
        tf.gather(tf.constant(latencies, tf.float32), active[b])
        for b, latencies in enumerate(space.candidates)
    ]
    return tf.constant(space.fixed, tf.float32) + tf.add_n(per_block)


def _check_target(target: float, unit: str) -> float:
    if isinstance(target, bool) or not isinstance(target, int | float) or not target > 0:
        raise ValueError(f"target latency must be a number > 0 {unit}, got {target!r}")
    return float(target)


def _params(kind: str, defaults: dict[str, dict[str, float]], name: str, given: dict) -> dict:
    if name not in defaults:
        raise ValueError(f"unknown {kind} {name!r}; choose one of {', '.join(defaults)}")
    unknown = set(given) - set(defaults[name])
    if unknown:
        raise ValueError(
            f"{kind} {name!r} takes {sorted(defaults[name])}, got unknown {sorted(unknown)}"
        )
    return {**defaults[name], **given}


def latency_loss(
    name: str, ce: tf.Tensor, latency: tf.Tensor, target: float, **params: float
) -> tf.Tensor:
    """The latency-aware loss `name` (one of `LOSSES`) of a cross-entropy and a latency."""
    p = _params("loss", LOSS_DEFAULTS, name, params)
    if name == "mul_log":
        # log E[LAT] / log T is only a ratio of sizes when both exceed 1 (the paper's ms).
        return p["alpha"] * ce * (tf.math.log(latency) / math.log(target)) ** p["beta"]
    if name == "add_linear":
        return ce + p["lam"] * (latency - target) / target
    if name == "hinge":
        return ce + p["lam"] * tf.nn.relu(latency / target - 1.0)
    return ce + p["lam"] * tf.abs(latency / target - 1.0)


def make_arch_objective(
    name: str,
    space: SpaceLatency,
    target: float,
    estimate: str = "expected",
    **params: float,
) -> ArchObjective:
    """An `arch_objective(ce, alphas, probabilities)` for `SearchSteps`: loss `name` on a latency.

    Args:
        name: One of `LOSSES`.
        space: Latency of every candidate of the searched space.
        target: Target latency T, in the space's unit.
        estimate: `expected` (E[LAT], the paper) or `derived` (the most likely
            network's latency with E[LAT]'s gradient, `derived_latency_estimate`).
        **params: Overrides of the loss's defaults (`LOSS_DEFAULTS[name]`).

    Raises:
        ValueError: Unknown loss or parameter, or a target the loss cannot use.
    """
    target = _check_target(target, space.unit)
    _params("loss", LOSS_DEFAULTS, name, params)
    if name == "mul_log" and target <= 1.0:
        raise ValueError(
            f"mul_log divides by log(target), which needs target > 1 {space.unit}, got "
            f"{target}; use a larger target or --loss=add_linear"
        )

    if estimate not in ESTIMATES:
        raise ValueError(f"latency estimate must be one of {ESTIMATES}, got {estimate!r}")

    def objective(
        ce: tf.Tensor,
        alphas: Sequence[tf.Tensor],
        probabilities: Sequence[tf.Tensor] | None = None,
    ) -> tf.Tensor:
        """The loss; `probabilities` (default softmax(alpha)) weigh the latencies."""
        if probabilities is None:
            probabilities = [tf.nn.softmax(tf.cast(alpha, tf.float32)) for alpha in alphas]
        if estimate == "expected":
            latency = latency_under(space, probabilities)
        else:
            latency = derived_latency_estimate(space, alphas, probabilities)
        return latency_loss(name, ce, latency, target, **params)

    return objective


def latency_reward(
    name: str, acc: tf.Tensor, latency: tf.Tensor, target: float, **params: float
) -> tf.Tensor:
    """The reward `name` (one of `REWARDS`) of an accuracy and a latency."""
    p = _params("reward", REWARD_DEFAULTS, name, params)
    if name == "proxyless":
        return acc * (target / latency) ** p["w"]
    if name == "mnas":
        return acc * (latency / target) ** p["w"]
    return acc + p["beta"] * tf.abs(latency / target - 1.0)


def make_reward(name: str, space: SpaceLatency, target: float, **params: float) -> RewardFn:
    """A `reward_fn(logits, labels, sample)` for REINFORCE: reward `name` of the sampled net.

    Args:
        name: One of `REWARDS`.
        space: Latency of every candidate of the searched space.
        target: Target latency T, in the space's unit.
        **params: Overrides of the reward's defaults (`REWARD_DEFAULTS[name]`).
    """
    target = _check_target(target, space.unit)
    _params("reward", REWARD_DEFAULTS, name, params)

    def reward(logits: tf.Tensor, labels: tf.Tensor, sample: sampling.PathSample) -> tf.Tensor:
        latency = sampled_latency(space, sample.active)
        return latency_reward(name, accuracy(labels, logits), latency, target, **params)

    return reward
