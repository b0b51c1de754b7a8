"""Weight initializations of the built networks, as Keras initializer configs.

- `he_fout` (the reference, `MyNetwork.init_model('he_fout')`): every
  convolution N(0, 2 / n) with n = k·k·out_channels. For a depthwise
  convolution the reference's n is also k·k·channels (it does not divide by
  the groups), which is Keras' fan-*in* of a depthwise kernel (k, k, C, 1).
  The classifier U(-1/sqrt(in), 1/sqrt(in)), bias 0; batch norm 1 and 0.
- `glorot`: Keras' defaults (Glorot uniform kernels).

Configs (not instances) so that `keras` and `tf_keras` layers both take
them, and every layer gets its own initializer.
"""

from __future__ import annotations

from typing import Any

INITS = ("he_fout", "glorot")


def _variance_scaling(scale: float, mode: str, distribution: str) -> dict[str, Any]:
    return {
        "class_name": "VarianceScaling",
        "config": {"scale": scale, "mode": mode, "distribution": distribution},
    }


def conv_initializer(init: str, depthwise: bool = False) -> str | dict[str, Any]:
    """The kernel initializer of a convolution under `init` (one of `INITS`)."""
    _check(init)
    if init == "glorot":
        return "glorot_uniform"
    return _variance_scaling(2.0, "fan_in" if depthwise else "fan_out", "untruncated_normal")


def dense_initializer(init: str) -> str | dict[str, Any]:
    """The kernel initializer of the classifier under `init`."""
    _check(init)
    if init == "glorot":
        return "glorot_uniform"
    # Uniform with limit sqrt(3 · scale / fan_in) = 1 / sqrt(fan_in).
    return _variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def _check(init: str) -> None:
    if init not in INITS:
        raise ValueError(f"init {init!r}: expected one of {', '.join(INITS)}")


__all__ = ["INITS", "conv_initializer", "dense_initializer"]
