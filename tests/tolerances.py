"""How closely two float32 computations of the same network agree, on any CPU or GPU.

Two implementations of one network (Keras 3 and tf_keras, a Keras model and
its SavedModel or TFLite form, a supernet path and the network derived from
it) compute the same sums in another order and with other kernels: oneDNN
picks its kernels by instruction set (`TF_ENABLE_ONEDNN_OPTS` switches them
off), GPUs use their own, and TFLite folds batch norm into the convolution
weights. Each float32 operation rounds by at most 2^-24 (6e-8) of its result;
a dot product of K terms summed in another order differs by up to about
K x 6e-8 of the sum of the terms' magnitudes, and each of a network's L layers
passes what it receives on, scaled by its gain. For the networks in these
tests (K up to 9 x 1280 in a convolution, L about 50) that puts honest
disagreements at a few 1e-5 of the outputs' scale (measured here: 2e-7 to
9e-6 with oneDNN on and off). A bound of 1e-4 of the largest output leaves a
margin of 10 on that, while a real fault (a lost or transposed weight, a wrong
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
