"""The loss and the metric every training path shares.

Also the signatures of the search's two pluggable objectives. Search, training
and the latency objectives import these from here rather than from one another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from tfnas.nets import sampling

# The arch step's objective: (validation cross-entropy, architecture logits, the op
# probabilities the step's latency term sees) -> loss. The probabilities are
# softmax(alpha) in `full` and `full_v2`, and in `two` the softmax over the
# sampled pair, zero elsewhere (the reference's `current_prob_over_ops`).
ArchObjective = Callable[[tf.Tensor, Sequence[tf.Tensor], Sequence[tf.Tensor]], tf.Tensor]
# REINFORCE's reward: (logits, labels, the sampled paths) -> reward of the batch.
RewardFn = Callable[[tf.Tensor, tf.Tensor, sampling.PathSample], tf.Tensor]


def cross_entropy(labels: tf.Tensor, logits: tf.Tensor, label_smoothing: float = 0.0) -> tf.Tensor:
    """Per-example softmax cross-entropy with integer labels and optional label smoothing."""
    num_classes = tf.shape(logits)[-1]
    targets = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=logits.dtype)
    if label_smoothing:
        targets = targets * (1.0 - label_smoothing) + label_smoothing / tf.cast(
            num_classes, logits.dtype
        )
    return tf.nn.softmax_cross_entropy_with_logits(targets, logits)


def accuracy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Top-1 accuracy of a batch."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32))
