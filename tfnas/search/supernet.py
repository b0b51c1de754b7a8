"""The supernet of a search space, its architecture parameters, and `derive`.

The supernet is the space's skeleton (stem, fixed blocks, feature mix, head;
`tfnas.nets.builder.skeleton`, the one `build_net` walks) with a `MixedOp` in
every choice block. The architecture logits alpha live in
a separate `ArchParameters` object: the supernet's variables are the network
weights only, so the weight optimizer never sees alpha and the arch optimizer
never sees a weight.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfnas.nets.builder import INPUT_NAME, block_layers, build_net, skeleton
from tfnas.nets.sampling import PathSample, most_likely
from tfnas.nets.spec import BlockSpec, ChoiceBlock, NetSpec, SearchSpace, block_name
from tfnas.nets.spec_json import spec_from_dict, spec_to_dict
from tfnas.search.mixed_op import MixedOp, build_layers, check_bn_mode, run_layers


class Supernet(keras.Model):
    """All candidate ops of a search space, sharing one skeleton.

    Call it as `supernet(images, sample, gates=None, mode="one",
    bn_mode="update")`; see `MixedOp.call` for the modes. The output is the
    logits of the sampled network.

    Args:
        space: The search space.
        init: The weights' initialization (`tfnas.nets.initializers.INITS`).
        **kwargs: Keras model arguments (name, ...).
    """

    def __init__(self, space: SearchSpace, init: str = "he_fout", **kwargs: Any) -> None:
        kwargs.setdefault("name", f"{space.name}_supernet")
        super().__init__(**kwargs)
        if not isinstance(space, SearchSpace):
            raise TypeError(f"Supernet expects a SearchSpace, got {type(space).__name__}")
        self.space = space
        bn = space.batch_norm

        def body(index: int, block: Any, prefix: str) -> Any:
            if isinstance(block, ChoiceBlock):
                return MixedOp.from_choice(block, prefix, bn, init=init, name=f"{prefix}_mixed")
            return block_layers(block, prefix, bn, init=init)

        # The layers are the attributes Keras tracks (and checkpoints name);
        # `skeleton` keeps the same objects in the order `call` runs them.
        self.skeleton = skeleton(space, body, init=init)
        self.stem = self.skeleton.stem
        self.block_ops: list[Any] = self.skeleton.blocks  # a MixedOp, or a fixed block's layers
        self.residual_adds = self.skeleton.residual_adds
        self.feature_mix = self.skeleton.feature_mix
        self.pool = self.skeleton.pool
        self.dropout = self.skeleton.dropout
        self.classifier = self.skeleton.classifier
        self.mixed_ops = [op for op in self.block_ops if isinstance(op, MixedOp)]
        self.build((None, space.resolution, space.resolution, space.in_channels))

    def build(self, input_shape: tuple) -> None:
        """Creates every weight, of every candidate, before the first step."""
        shape = build_layers(self.stem, input_shape)
        for op in self.block_ops:
            if isinstance(op, MixedOp):
                op.build(shape)
                shape = op.compute_output_shape(shape)
            else:
                shape = build_layers(op, shape)
        shape = build_layers(self.feature_mix, shape)
        shape = build_layers([self.pool], shape)
        self.classifier.build(shape)

    @property
    def num_candidates(self) -> list[int]:
        """The number of candidates of each choice block."""
        return [op.num_candidates for op in self.mixed_ops]

    def call(
        self,
        images: tf.Tensor,
        sample: PathSample,
        gates: Sequence[tf.Tensor] | None = None,
        mode: str = "one",
        bn_mode: str = "update",
        dropout: bool | None = None,
    ) -> tf.Tensor:
        """The logits of the network that `sample` selects.

        Args:
            images: Float images, (batch, height, width, channels).
            sample: The paths to run.
            gates: One gate vector per choice block (`sampling.binary_gates`);
                required for modes other than `one`.
            mode: How the mixed ops run (see `MixedOp.call`).
            bn_mode: Batch-norm mode (see `tfnas.search.mixed_op`).
            dropout: Whether dropout is active (default: unless `bn_mode` is `moving`).

        Returns:
            Logits, (batch, num_classes).
        """
        check_bn_mode(bn_mode)
        choice_of = {id(op): index for index, op in enumerate(self.mixed_ops)}

        def run_block(index: int, body: Any, x: tf.Tensor) -> tf.Tensor:
            if not isinstance(body, MixedOp):
                return run_layers(body, x, bn_mode)
            choice = choice_of[id(body)]
            return body(
                x,
                active=sample.active[choice],
                inactive=sample.inactive[choice],
                gate=None if gates is None else gates[choice],
                mode=mode,
                bn_mode=bn_mode,
            )

        return self.skeleton.forward(
            images,
            run=lambda layers, x: run_layers(layers, x, bn_mode),
            run_block=run_block,
            training=bn_mode != "moving" if dropout is None else dropout,
        )

    def candidate_weight_owners(self) -> dict[str, tuple[int, int]]:
        """Maps the path of each candidate-op variable to (choice block, candidate).

        Variables absent from the map (stem, fixed blocks, head) are shared by
        every path and update in every weight step.
        """
        owners = {}
        for block, op in enumerate(self.mixed_ops):
            for candidate in range(op.num_candidates):
                for weight in op.candidate_weights(candidate):
                    owners[weight.path] = (block, candidate)
        return owners

    def get_config(self) -> dict[str, Any]:
        """The search space, in the project's JSON form."""
        return {"name": self.name, "space": spec_to_dict(self.space)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Supernet:
        """Rebuilds a supernet (untrained) from `get_config`."""
        config = dict(config)
        return cls(spec_from_dict(config.pop("space")), **config)


class ArchParameters(keras.layers.Layer):
    """The architecture logits alpha: one trainable vector per choice block.

    A layer of its own, never a sublayer of the supernet, so that its
    variables form a separate collection with its own optimizer.

    Args:
        num_candidates: The number of candidates of each choice block.
        init_stddev: Standard deviation of the normal initialization (the
            paper's 1e-3 makes the first samples close to uniform).
        seed: Seed of the initialization.
        **kwargs: Keras layer arguments.
    """

    def __init__(
        self,
        num_candidates: Sequence[int],
        init_stddev: float = 1e-3,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("name", "arch")
        super().__init__(**kwargs)
        self.num_candidates = [int(n) for n in num_candidates]
        if not self.num_candidates or min(self.num_candidates) < 1:
            raise ValueError(
                f"num_candidates must list at least one block, each with at least one "
                f"candidate, got {list(num_candidates)}"
            )
        self.init_stddev = init_stddev
        self.seed = seed
        self.alphas = [
            self.add_weight(
                shape=(n,),
                initializer=keras.initializers.RandomNormal(
                    stddev=init_stddev, seed=None if seed is None else seed + b
                ),
                name=f"alpha_{b:02d}",
            )
            for b, n in enumerate(self.num_candidates)
        ]
        self.built = True

    def call(self, inputs: Any = None) -> list[tf.Tensor]:
        """The logits, as tensors."""
        return [tf.convert_to_tensor(a) for a in self.alphas]

    def probabilities(self) -> list[np.ndarray]:
        """Each block's op probabilities, as NumPy arrays."""
        return [tf.nn.softmax(a).numpy() for a in self.alphas]

    def get_config(self) -> dict[str, Any]:
        """Everything `__init__` needs."""
        config = super().get_config()
        config.update(
            num_candidates=self.num_candidates, init_stddev=self.init_stddev, seed=self.seed
        )
        return config


def derive_choices(space: SearchSpace, choices: Sequence[int], name: str | None = None) -> NetSpec:
    """The network of one op per choice block, with Zero blocks dropped.

    Dropping a Zero block changes nothing in the function (Zero plus the
    residual is the identity); the result has only blocks that compute.

    Args:
        space: The search space.
        choices: One candidate index per choice block.
        name: Name of the network (default `{space.name}_derived`).

    Returns:
        The network spec that `build_net` builds.
    """
    selected = space.select(choices)
    return dataclasses.replace(
        selected,
        name=name or f"{space.name}_derived",
        blocks=tuple(b for b in selected.blocks if not b.is_identity),
    )


def derive(space: SearchSpace, alphas: Sequence[Any], name: str | None = None) -> NetSpec:
    """The most likely network under alpha (argmax per choice block, Zero dropped)."""
    if len(alphas) != len(space.choice_blocks):
        raise ValueError(
            f"expected {len(space.choice_blocks)} logit vectors (one per choice block of "
            f"{space.name!r}), got {len(alphas)}"
        )
    for b, (alpha, block) in enumerate(zip(alphas, space.choice_blocks, strict=True)):
        if int(np.shape(alpha)[0]) != len(block.candidates):
            raise ValueError(
                f"choice block {b} has {len(block.candidates)} candidates, but its logit "
                f"vector has {np.shape(alpha)[0]} entries"
            )
    return derive_choices(space, most_likely(alphas), name)


def _layer_name_map(space: SearchSpace, choices: Sequence[int]) -> dict[str, str]:
    """Block prefixes of the derived network -> their prefixes in the supernet."""
    mapping = {}
    remaining = iter(choices)
    derived_index = 0
    for index, block in enumerate(space.blocks):
        if isinstance(block, ChoiceBlock):
            choice = next(remaining)
            source = f"{block_name(index)}_{block.candidates[choice].name}"
            concrete: BlockSpec = block.select(choice)
        else:
            source, concrete = block_name(index), block
        if concrete.is_identity:
            continue
        mapping[block_name(derived_index)] = source
        derived_index += 1
    return mapping


def inherit_weights(supernet: Supernet, choices: Sequence[int]) -> keras.Model:
    """Builds the derived network of `choices` with the supernet's weights.

    Args:
        supernet: A (trained) supernet.
        choices: One candidate index per choice block.

    Returns:
        The Functional model of `derive_choices(space, choices)`, every weight
        (batch-norm statistics included) copied from the supernet.
    """
    model = build_net(derive_choices(supernet.space, choices))
    copy_inherited_weights(supernet, choices, model)
    return model


def copy_inherited_weights(supernet: Supernet, choices: Sequence[int], model: keras.Model) -> None:
    """Copies the supernet's weights of the network `choices` into `model`, built from it."""
    source_layers = {}
    for layer in _flat_layers(supernet):
        source_layers[layer.name] = layer
    prefixes = _layer_name_map(supernet.space, choices)
    for layer in model.layers:
        if not layer.weights or layer.name == INPUT_NAME:
            continue
        head, _, rest = layer.name.partition("_")
        source_name = f"{prefixes[head]}_{rest}" if head in prefixes else layer.name
        layer.set_weights(source_layers[source_name].get_weights())


def _flat_layers(supernet: Supernet) -> list[Any]:
    layers = [*supernet.stem, *supernet.feature_mix, supernet.classifier]
    for op in supernet.block_ops:
        if isinstance(op, MixedOp):
            layers += [layer for path in op.paths for layer in path]
        else:
            layers += op
    return layers
