"""Adam for the architecture logits, computed as the reference's PyTorch Adam computes it.

Keras' Adam differs from `torch.optim.Adam` in two ways that matter for
alpha, whose gradients are small and whose blocks are often left out:

- Keras adds epsilon to sqrt(v) before the bias correction, PyTorch after
  it. Keras' epsilon therefore acts as epsilon / sqrt(1 - beta_2^t) of
  PyTorch's: 32 times larger at the first step with beta_2 = 0.999, 2.2
  times after 100 steps. With gradients of 1e-6 to 1e-4, as alpha's are,
  that moves the updates.
- Keras counts one step for all variables; PyTorch counts per parameter, and
  a parameter whose gradient is None (the reference's Zero rule, a block left
  out of the step) keeps its moments and its step count.

`ReferenceAdam` keeps a step count per variable and takes per-variable skip
flags (`apply_skipping`): a skipped variable, its moments and its count stay
exactly as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf
from keras import ops


class ReferenceAdam(keras.optimizers.Adam):
    """`torch.optim.Adam` (no weight decay, no amsgrad) as a Keras optimizer.

    Per variable with step count t (incremented only when the variable is
    updated), g the gradient:

        m <- beta_1 m + (1 - beta_1) g;  v <- beta_2 v + (1 - beta_2) g^2
        x <- x - lr / (1 - beta_1^t) * m / (sqrt(v) / sqrt(1 - beta_2^t) + epsilon)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("amsgrad"):
            raise ValueError("ReferenceAdam does not implement amsgrad")
        super().__init__(*args, **kwargs)

    def build(self, var_list: Sequence[Any]) -> None:
        """Creates the moments, and per variable a step count and a skip flag."""
        if self.built:
            return
        super().build(var_list)
        # A slot like the moments (every entry holds the same count), so that
        # checkpoints save and restore it with them.
        self._steps = [
            self.add_variable_from_reference(v, name="step", initializer="zeros") for v in var_list
        ]
        # Set for one `apply_skipping` only, so not saved; every replica of a
        # distributed step sets the same flags (the sample is shared).
        self._skips = [
            tf.Variable(
                False,
                trainable=False,
                name=f"skip_{i}",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            for i in range(len(var_list))
        ]

    def apply_skipping(
        self, grads: Sequence[Any], variables: Sequence[Any], skip: Sequence[Any]
    ) -> None:
        """Applies `grads`, leaving every variable whose `skip` flag is true untouched."""
        for flag, value in zip(self._skips, skip, strict=True):
            flag.assign(tf.convert_to_tensor(value, tf.bool))
        self.apply(grads, variables)
        for flag in self._skips:
            flag.assign(False)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One PyTorch Adam step of `variable`, unless its skip flag is set."""
        index = self._get_variable_index(variable)
        skip = self._skips[index]
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step_var, m, v = self._steps[index], self._momentums[index], self._velocities[index]
        step = step_var + 1.0
        new_m = m + (gradient - m) * (1 - self.beta_1)
        new_v = v + (ops.square(gradient) - v) * (1 - self.beta_2)
        correction_1 = 1 - ops.power(ops.cast(self.beta_1, dtype), step)
        correction_2 = 1 - ops.power(ops.cast(self.beta_2, dtype), step)
        denominator = ops.sqrt(new_v) / ops.sqrt(correction_2) + self.epsilon
        new_value = variable - lr / correction_1 * new_m / denominator
        self.assign(step_var, ops.where(skip, step_var, step))
        self.assign(m, ops.where(skip, m, new_m))
        self.assign(v, ops.where(skip, v, new_v))
        self.assign(variable, ops.where(skip, variable, new_value))


__all__ = ["ReferenceAdam"]
