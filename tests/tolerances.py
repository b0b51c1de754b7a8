"""How closely two float32 computations of the same network agree, on any CPU or GPU.

Two implementations of one network (Keras 3 and tf_keras, a Keras model and
its SavedModel or TFLite form, a supernet path and the network derived from
it) compute the same sums in another order and with other kernels: oneDNN
picks its kernels by instruction set (`TF_ENABLE_ONEDNN_OPTS` switches them
off), GPUs use their own, and TFLite folds batch norm into the convolution
weights. Each float32 operation rounds by at most 2^-24 (6e-8) of its result;
a sum of K terms taken in another order differs by about sqrt(K) x 6e-8 of the
terms' magnitudes (K x 6e-8 at worst), which is 6e-6 for the largest sums
here (K = 9 x 1280), and the layers after it pass that on. Measured here, with
oneDNN on and off: 0 (the same kernels) to 1.5e-6 of the largest output
(tf_keras against Keras 3, oneDNN on). A bound of 1e-4 of the largest output
leaves a margin of more than 15 on the largest sum's rounding and 60 on what
was measured, while a real fault (a lost or transposed weight, a wrong
normalization, a missing layer) moves the outputs by a percent or more.

A bound relative to the outputs' size, not an absolute one: logits of 20
round ten times coarser than logits of 2.
"""

import numpy as np

# Relative to the largest output: see the module docstring for why.
RTOL_FLOAT32_NETWORK = 1e-4


def network_atol(want: np.ndarray, rtol: float = RTOL_FLOAT32_NETWORK) -> float:
    """The absolute bound `rtol` of the largest |value| of `want` allows."""
    return rtol * float(np.abs(np.asarray(want)).max())


def assert_same_network_outputs(
    got: np.ndarray, want: np.ndarray, rtol: float = RTOL_FLOAT32_NETWORK, err_msg: str = ""
) -> None:
    """Fails unless every |got - want| <= `rtol` x max|want| (two float32 runs of one network)."""
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=0, atol=network_atol(want, rtol), err_msg=err_msg)
