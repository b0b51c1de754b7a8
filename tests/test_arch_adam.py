"""`ReferenceAdam` is torch.optim.Adam: epsilon after the bias correction, a step count per
variable, and a skipped variable (PyTorch's None gradient) left exactly as it was."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnas.search.arch_adam import ReferenceAdam


class TorchAdam:
    """torch.optim.Adam's update, written out in NumPy (float64)."""

    def __init__(self, shapes, lr, beta_1, beta_2, eps):
        self.lr, self.b1, self.b2, self.eps = lr, beta_1, beta_2, eps
        self.m = [np.zeros(s) for s in shapes]
        self.v = [np.zeros(s) for s in shapes]
        self.t = [0] * len(shapes)

    def step(self, values, grads):
        out = []
        for i, (x, g) in enumerate(zip(values, grads, strict=True)):
            if g is None:  # PyTorch skips a parameter whose .grad is None
                out.append(x)
                continue
            self.t[i] += 1
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            c1, c2 = 1 - self.b1 ** self.t[i], 1 - self.b2 ** self.t[i]
            out.append(x - self.lr / c1 * self.m[i] / (np.sqrt(self.v[i]) / np.sqrt(c2) + self.eps))
        return out


@pytest.mark.parametrize("beta_1", [0.0, 0.9])
def test_reference_adam_matches_torchs_update_with_skipped_variables(beta_1):
    rng = np.random.default_rng(0)
    shapes = [(7,), (4,), (6,)]
    start = [rng.normal(0, 1e-3, s) for s in shapes]
    variables = [tf.Variable(x.astype(np.float32)) for x in start]
    optimizer = ReferenceAdam(1e-2, beta_1=beta_1, beta_2=0.999, epsilon=1e-8)
    optimizer.build(variables)
    torch = TorchAdam(shapes, 1e-2, beta_1, 0.999, 1e-8)
    expected = [x.copy() for x in start]
    for step in range(12):
        # Gradients of alpha's size (1e-6..1e-4), where epsilon's placement matters.
        grads = [rng.normal(0, 10.0 ** rng.uniform(-6, -4), s) for s in shapes]
        skip = [(step + i) % 3 == 0 for i in range(len(shapes))]
        optimizer.apply_skipping(
            [tf.constant(g, tf.float32) for g in grads], variables, [tf.constant(s) for s in skip]
        )
        expected = torch.step(
            expected, [None if s else g for g, s in zip(grads, skip, strict=True)]
        )
        for variable, want in zip(variables, expected, strict=True):
            # float32 round-off over 12 steps of about lr = 1e-2 each stays under 1e-6
            # (2e-7 measured); a wrong rule (one shared step count, epsilon before the
            # bias correction, a skipped variable moved) is off by a good part of a step.
            np.testing.assert_allclose(variable.numpy(), want, rtol=0, atol=1e-6)


def test_keras_adam_differs_where_the_gradients_are_small():
    """Why the class exists: Keras' epsilon, added before the bias correction, is 32x
    PyTorch's at the first step, so a 1e-7 gradient moves alpha visibly less."""
    grads = [tf.constant([1e-7, -1e-7])]
    moved = {}
    for name, cls in (("reference", ReferenceAdam), ("keras", keras.optimizers.Adam)):
        variable = tf.Variable([0.0, 0.0])
        cls(1e-3, beta_1=0.0, epsilon=1e-8).apply(grads, [variable])
        moved[name] = abs(float(variable[0]))
    assert moved["reference"] == pytest.approx(1e-3 * 1e-7 / (1e-7 + 1e-8), rel=1e-4)
    assert moved["keras"] < 0.8 * moved["reference"]


def test_amsgrad_is_refused():
    with pytest.raises(ValueError, match="amsgrad"):
        ReferenceAdam(1e-3, amsgrad=True)
