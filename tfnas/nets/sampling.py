"""Path sampling and the binary-gate gradient, as pure functions of the architecture logits.

Every choice block b has a logit vector alpha_b over its candidates, and
p_b = softmax(alpha_b). A step samples which candidate runs in each block
(`PathSample`); the gates are the one-hot vectors of the sampled paths.

The gates carry the ProxylessNAS (BinaryConnect-style) gradient to the logits:

    dL/dalpha_i = sum_j dL/dg_j * p_j * (delta_ij - p_i),

where dL/dg_j is the inner product of the block's output gradient with path
j's output (the mixed op supplies it). In `two` mode p is renormalized over
the two sampled paths and only their logits get a gradient; `rescale_two`
then shifts those two logits so that the other ops keep their probabilities.

Nothing here reads or writes variables: the functions take logits (tensors)
and a stateless seed, so a step is reproducible from (alpha, seed) and the
same sample can be handed to every replica of a distributed step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import tensorflow as tf

NO_PATH = -1  # `PathSample.inactive` of a block where only one path runs.


class PathSample(NamedTuple):
    """Which candidate runs in each choice block.

    Attributes:
        active: int32 [num_choice_blocks], the path whose output the block passes on.
        inactive: int32 [num_choice_blocks], the second path of `two` mode (its
            output is computed for the gate gradient only), or `NO_PATH`.
    """

    active: tf.Tensor
    inactive: tf.Tensor


def probabilities(alphas: Sequence[tf.Tensor]) -> list[tf.Tensor]:
    """Softmax of each block's logits."""
    return [tf.nn.softmax(tf.convert_to_tensor(a)) for a in alphas]


def _block_seeds(seed: tf.Tensor, num_blocks: int) -> tf.Tensor:
    """One independent stateless seed per block, derived from one step seed."""
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=num_blocks)


def _categorical(logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    return tf.random.stateless_categorical(logits[tf.newaxis], 1, seed, dtype=tf.int32)[0, 0]


def sample_one(alphas: Sequence[tf.Tensor], seed: tf.Tensor) -> PathSample:
    """Samples one path per block from p = softmax(alpha).

    Args:
        alphas: One logit vector per choice block.
        seed: A stateless seed, int tensor of shape [2].

    Returns:
        The sample; `inactive` is `NO_PATH` everywhere.
    """
    seeds = _block_seeds(seed, len(alphas))
    active = [_categorical(tf.convert_to_tensor(a), seeds[b]) for b, a in enumerate(alphas)]
    return PathSample(tf.stack(active), tf.fill([len(alphas)], NO_PATH))


def sample_uniform(num_candidates: Sequence[int], seed: tf.Tensor) -> PathSample:
    """Samples one path per block uniformly (the warmup of the weights)."""
    return sample_one([tf.zeros([n]) for n in num_candidates], seed)


def sample_two(alphas: Sequence[tf.Tensor], seed: tf.Tensor) -> PathSample:
    """Samples two distinct paths per block, then which of the two runs.

    The pair is drawn from p without replacement (Gumbel top-2, which is
    equivalent to drawing one path, then another from the rest); the active
    path is then drawn from p renormalized over the pair, as in the paper.

    Args:
        alphas: One logit vector per choice block, each with at least two candidates.
        seed: A stateless seed, int tensor of shape [2].

    Returns:
        The sample, with both `active` and `inactive` set in every block.
    """
    seeds = _block_seeds(seed, 2 * len(alphas))
    active, inactive = [], []
    for b, alpha in enumerate(alphas):
        alpha = tf.convert_to_tensor(alpha)
        if alpha.shape[0] is not None and alpha.shape[0] < 2:
            raise ValueError(
                f"choice block {b} has {alpha.shape[0]} candidate; two-path sampling needs "
                "at least two in every block"
            )
        uniform = tf.random.stateless_uniform(tf.shape(alpha), seeds[2 * b], minval=1e-20)
        gumbel = -tf.math.log(-tf.math.log(uniform))
        pair = tf.math.top_k(alpha + gumbel, k=2).indices
        pick = _categorical(tf.gather(alpha, pair), seeds[2 * b + 1])
        active.append(pair[pick])
        inactive.append(pair[1 - pick])
    return PathSample(tf.cast(tf.stack(active), tf.int32), tf.cast(tf.stack(inactive), tf.int32))


def log_prob(alphas: Sequence[tf.Tensor], active: tf.Tensor) -> tf.Tensor:
    """The log-probability of a sample: sum over blocks of log softmax(alpha_b)[active_b]."""
    terms = [
        tf.gather(tf.nn.log_softmax(tf.convert_to_tensor(a)), active[b])
        for b, a in enumerate(alphas)
    ]
    return tf.add_n(terms)


def involved_mask(sample: PathSample, block: int, num_candidates: int) -> tf.Tensor:
    """1.0 for the sampled paths of a block (one or two), 0.0 elsewhere."""
    mask = tf.one_hot(sample.active[block], num_candidates)
    # one_hot of NO_PATH (-1) is all zeros, so a one-path sample adds nothing.
    return mask + tf.one_hot(sample.inactive[block], num_candidates)


def _binary_gate(alpha: tf.Tensor, active: tf.Tensor, over: tf.Tensor | None) -> tf.Tensor:
    """One-hot gate of the active path whose gradient is the paper's estimator.

    Args:
        alpha: Logits of one block.
        active: The active path.
        over: Mask of the paths p is normalized over (None: all of them).
    """

    @tf.custom_gradient
    def gate(logits: tf.Tensor) -> tuple[tf.Tensor, object]:
        def grad(d_gate: tf.Tensor) -> tf.Tensor:
            if over is None:
                p = tf.nn.softmax(logits)
            else:
                # Softmax over the sampled paths only; the others get p = 0 and
                # therefore no gradient.
                p = tf.nn.softmax(tf.where(over > 0, logits, logits.dtype.min)) * over
            # sum_j dg_j p_j (delta_ij - p_i) = p_i * (dg_i - sum_j dg_j p_j)
            return p * (d_gate - tf.reduce_sum(d_gate * p))

        return tf.one_hot(active, tf.shape(logits)[0], dtype=logits.dtype), grad

    return gate(alpha)


def binary_gates(
    alphas: Sequence[tf.Tensor], sample: PathSample, renormalize: bool = False
) -> list[tf.Tensor]:
    """The one-hot gates of the active paths, differentiable in alpha.

    Args:
        alphas: One logit vector per choice block (variables or tensors).
        sample: The sampled paths.
        renormalize: Normalize p over the sampled paths only (`two` mode)
            instead of over all candidates (`full` and `full_v2`).

    Returns:
        One gate vector per block; its value is one-hot, its gradient with
        respect to alpha is the ProxylessNAS estimator.
    """
    gates = []
    for b, alpha in enumerate(alphas):
        alpha = tf.convert_to_tensor(alpha)
        over = involved_mask(sample, b, tf.shape(alpha)[0]) if renormalize else None
        gates.append(_binary_gate(alpha, sample.active[b], over))
    return gates


def pair_probabilities(alphas: Sequence[tf.Tensor], sample: PathSample) -> list[tf.Tensor]:
    """Each block's op probabilities renormalized over its sampled pair, zero elsewhere.

    What `two` mode's latency term weighs the candidates' latencies by, as the
    reference (`current_prob_over_ops` in two-path mode): its gradient reaches
    only the pair's logits, so `rescale_two` keeps every other op's probability.
    """
    result = []
    for b, alpha in enumerate(alphas):
        alpha = tf.convert_to_tensor(alpha)
        pair = involved_mask(sample, b, tf.shape(alpha)[0]) > 0
        result.append(tf.nn.softmax(tf.where(pair, alpha, tf.constant(-math.inf, alpha.dtype))))
    return result


def rescale_two(
    old_alphas: Sequence[tf.Tensor], new_alphas: Sequence[tf.Tensor], sample: PathSample
) -> list[tf.Tensor]:
    """Shifts the two updated logits of each block so the other ops keep their probability.

    After a `two`-mode update only the two sampled logits changed; subtracting
    log(sum exp(new pair) / sum exp(old pair)) from both keeps the pair's total
    probability, hence every other op's probability, as before the update.

    Args:
        old_alphas: Logits before the update.
        new_alphas: Logits after the update.
        sample: The sample of the update (both paths set).

    Returns:
        The rescaled logits.
    """
    result = []
    for b, (old, new) in enumerate(zip(old_alphas, new_alphas, strict=True)):
        old, new = tf.convert_to_tensor(old), tf.convert_to_tensor(new)
        mask = involved_mask(sample, b, tf.shape(new)[0])
        pair = mask > 0
        offset = tf.reduce_logsumexp(tf.boolean_mask(new, pair)) - tf.reduce_logsumexp(
            tf.boolean_mask(old, pair)
        )
        result.append(new - offset * mask)
    return result


def entropy(alphas: Sequence[tf.Tensor]) -> list[tf.Tensor]:
    """Entropy (nats) of each block's op distribution."""
    result = []
    for alpha in alphas:
        log_p = tf.nn.log_softmax(tf.convert_to_tensor(alpha))
        result.append(-tf.reduce_sum(tf.exp(log_p) * log_p))
    return result


def most_likely(alphas: Sequence[tf.Tensor]) -> list[int]:
    """The argmax op of each block (the derived architecture's choices)."""
    return [int(tf.argmax(tf.convert_to_tensor(a))) for a in alphas]
