"""The mixed op: one choice block's candidate ops, of which a step runs one or two.

`MixedOp` builds every candidate's layers up front (in `build`, so no variable
is ever created inside a `tf.switch_case` branch) and takes the sampled paths
and gates as call arguments; it holds no mode of its own. How it runs:

- `one`: only the active path executes (`tf.switch_case`). Weight steps,
  evaluation and REINFORCE.
- `two`: the active path, plus the inactive path without gradient; the output
  is g_a*o_a + g_i*o_i, so dL/dg_j = <dL/dy, o_j> for the two.
- `full_v2`: the active path only; the backward pass recomputes the other
  paths, one at a time and without gradient, to get every dL/dg_j. Memory
  stays that of one path.
- `full`: every path forward and kept for backward, output sum_j g_j*o_j:
  the DARTS-like baseline whose memory grows with the number of candidates.

Batch normalization has three modes (`bn_mode`): `update` (batch statistics,
moving averages updated: weight steps), `batch` (batch statistics, moving
averages untouched: arch steps and recomputations, so that evaluating the
architecture on validation data does not retrain the statistics) and
`moving` (the moving averages: inference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfnas.nets.builder import block_layers
from tfnas.nets.ops import parse_op
from tfnas.nets.spec import BatchNormSpec, ChoiceBlock

BN_MODES = ("update", "batch", "moving")
RUN_MODES = ("one", "two", "full_v2", "full")


def check_bn_mode(bn_mode: str) -> None:
    """Raises ValueError unless `bn_mode` is one of `BN_MODES`."""
    if bn_mode not in BN_MODES:
        raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")


def batch_norm(layer: keras.layers.BatchNormalization, x: tf.Tensor, bn_mode: str) -> tf.Tensor:
    """Applies a BatchNormalization layer in one of the `BN_MODES`."""
    if bn_mode == "update":
        return layer.call(x, training=True)
    if bn_mode == "moving":
        return layer.call(x, training=False)
    # The computation of BatchNormalization.call in training mode, minus the
    # assignment of the moving averages.
    axes = [axis for axis in range(len(x.shape)) if axis != len(x.shape) - 1]
    mean, variance = keras.ops.moments(x, axes=axes)
    return keras.ops.batch_normalization(
        x, mean, variance, axis=-1, offset=layer.beta, scale=layer.gamma, epsilon=layer.epsilon
    )


def run_layers(layers: Sequence[Any], x: tf.Tensor, bn_mode: str) -> tf.Tensor:
    """Applies built layers in sequence, batch norms in `bn_mode`.

    Calls `layer.call` rather than `layer(...)`: every layer is built up
    front, and a supernet step makes hundreds of layer calls, for which
    Keras' per-call bookkeeping (input conversion, name scopes) cost a
    quarter of the step time of the demo supernet on CPU.
    """
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            x = batch_norm(layer, x, bn_mode)
        else:
            x = layer.call(x)
    return x


def build_layers(layers: Sequence[Any], input_shape: tuple) -> tuple:
    """Builds layers in sequence from an input shape; returns the output shape."""
    shape = tuple(input_shape)
    for layer in layers:
        if not layer.built:
            layer.build(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return shape


class MixedOp(keras.layers.Layer):
    """The candidates of one choice block; runs the sampled path(s) only.

    The residual addition, if any, is left to the caller, as for a plain block.

    Args:
        candidates: The candidate ops' names (`3x3_MBConv3`, `Zero`, ...), in
            the order of the block's architecture logits.
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the depthwise convolutions.
        residual: Whether the block adds its input (required by a Zero candidate).
        block_prefix: Prefix of the candidates' layer names; candidate j's
            layers are named `{block_prefix}_{op name}_{layer}`.
        bn_momentum: Batch-norm momentum (Keras convention).
        bn_epsilon: Batch-norm epsilon.
        init: The candidates' initialization (`tfnas.nets.initializers.INITS`).
        **kwargs: Keras layer arguments (name, dtype, ...).
    """

    def __init__(
        self,
        candidates: Sequence[str],
        in_channels: int,
        out_channels: int,
        stride: int,
        residual: bool,
        block_prefix: str,
        bn_momentum: float = 0.9,
        bn_epsilon: float = 1e-3,
        init: str = "he_fout",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.choice = ChoiceBlock(
            tuple(parse_op(name) for name in candidates),
            in_channels,
            out_channels,
            stride,
            residual,
        )
        self.block_prefix = block_prefix
        self.batch_norm_spec = BatchNormSpec(bn_momentum, bn_epsilon)
        self.init = init
        self.paths = [
            block_layers(
                self.choice.select(j),
                f"{block_prefix}_{op.name}",
                self.batch_norm_spec,
                init=init,
            )
            for j, op in enumerate(self.choice.candidates)
        ]

    @classmethod
    def from_choice(
        cls, choice: ChoiceBlock, block_prefix: str, batch_norm: BatchNormSpec, **kwargs: Any
    ) -> MixedOp:
        """The mixed op of a `ChoiceBlock`."""
        return cls(
            [op.name for op in choice.candidates],
            choice.in_channels,
            choice.out_channels,
            choice.stride,
            choice.residual,
            block_prefix,
            batch_norm.momentum,
            batch_norm.epsilon,
            **kwargs,
        )

    @property
    def num_candidates(self) -> int:
        """How many candidate ops the block chooses from."""
        return len(self.paths)

    def build(self, input_shape: tuple) -> None:
        """Builds every candidate, so that no branch creates variables when it first runs."""
        for layers in self.paths:
            build_layers(layers, input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape, the same for every candidate."""
        for layers in self.paths:
            if layers:
                return build_layers(layers, input_shape)
        return tuple(input_shape)  # only Zero: the spec makes it shape-preserving

    def candidate_weights(self, index: int) -> list[Any]:
        """The trainable variables of candidate `index` (none for Zero)."""
        return [w for layer in self.paths[index] for w in layer.trainable_weights]

    def path_output(self, index: int, x: tf.Tensor, bn_mode: str) -> tf.Tensor:
        """The output of candidate `index` (a Python int)."""
        layers = self.paths[index]
        if not layers:
            return tf.zeros_like(x)  # Zero; the block is residual, so shapes match
        return run_layers(layers, x, bn_mode)

    def switch(self, index: tf.Tensor | int, x: tf.Tensor, bn_mode: str) -> tf.Tensor:
        """Runs only candidate `index`; the other branches do not execute.

        A Python int fixes the path when the step is traced, with no
        `tf.switch_case` (`benchmarks.efficiency` measures what the switch
        costs in memory against it).
        """
        if isinstance(index, int):
            return self.path_output(index, x, bn_mode)
        branches = [
            (lambda j=j: self.path_output(j, x, bn_mode)) for j in range(self.num_candidates)
        ]
        return tf.switch_case(tf.cast(index, tf.int32), branches)

    def call(
        self,
        inputs: tf.Tensor,
        active: tf.Tensor,
        inactive: tf.Tensor | None = None,
        gate: tf.Tensor | None = None,
        mode: str = "one",
        bn_mode: str = "update",
    ) -> tf.Tensor:
        """Runs the block.

        Args:
            inputs: The block input.
            active: int32 scalar, the path whose output the block returns (or a
                Python int, fixed when traced: `switch`).
            inactive: int32 scalar, the second path of `two` mode.
            gate: The block's gate vector (one-hot of `active`, differentiable
                in the architecture logits); required except in `one` mode.
            mode: One of `RUN_MODES`.
            bn_mode: One of `BN_MODES`.

        Returns:
            The output of the active path (the residual not added).
        """
        check_bn_mode(bn_mode)
        if mode == "one":
            return self.switch(active, inputs, bn_mode)
        if mode not in RUN_MODES:
            raise ValueError(f"mode must be one of {RUN_MODES}, got {mode!r}")
        if gate is None:
            raise ValueError(f"mode {mode!r} needs the block's gate vector")
        if mode == "full":
            outputs = [self.path_output(j, inputs, bn_mode) for j in range(self.num_candidates)]
            return tf.add_n([gate[j] * out for j, out in enumerate(outputs)])
        if mode == "two":
            if inactive is None:
                raise ValueError("mode 'two' needs the inactive path")
            output = self.switch(active, inputs, bn_mode)
            other = tf.stop_gradient(self.switch(inactive, inputs, bn_mode))
            return tf.gather(gate, active) * output + tf.gather(gate, inactive) * other
        output = self.switch(active, inputs, bn_mode)
        return self._recompute_gate_gradient(output, inputs, gate, active)

    def _recompute_gate_gradient(
        self, output: tf.Tensor, inputs: tf.Tensor, gate: tf.Tensor, active: tf.Tensor
    ) -> tf.Tensor:
        """`full_v2`: identity on the output, whose backward also yields dL/dgate.

        dL/dg_j = <dL/dy, o_j>; the active path's output is at hand, the others
        are recomputed from the input, one at a time and without gradient,
        with batch statistics and no moving-average update.
        """

        @tf.custom_gradient
        def attach(y: tf.Tensor, x: tf.Tensor, g: tf.Tensor) -> tuple[tf.Tensor, Any]:
            def grad(dy: tf.Tensor) -> tuple[tf.Tensor, None, tf.Tensor]:
                d_gate = []
                for j, op in enumerate(self.choice.candidates):
                    if op.outputs_zero:
                        d_gate.append(tf.zeros([], dy.dtype))  # o_j = 0
                        continue
                    d_gate.append(
                        tf.cond(
                            tf.equal(active, j),
                            lambda: tf.reduce_sum(dy * y),
                            lambda j=j: tf.reduce_sum(
                                dy * tf.stop_gradient(self.path_output(j, x, "batch"))
                            ),
                        )
                    )
                return dy, None, tf.stack(d_gate)

            return tf.identity(y), grad

        return attach(output, inputs, gate)

    def get_config(self) -> dict[str, Any]:
        """Everything `__init__` needs, so `from_config` rebuilds the layer."""
        config = super().get_config()
        config.update(
            candidates=[op.name for op in self.choice.candidates],
            in_channels=self.choice.in_channels,
            out_channels=self.choice.out_channels,
            stride=self.choice.stride,
            residual=self.choice.residual,
            block_prefix=self.block_prefix,
            bn_momentum=self.batch_norm_spec.momentum,
            bn_epsilon=self.batch_norm_spec.epsilon,
            init=self.init,
        )
        return config
