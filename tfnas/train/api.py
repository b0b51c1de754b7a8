"""`tfnas.train(arch, data, output_dir=..., **values)`: training from Python (engine.api)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from tfnas.datasets.pipeline import normalization_layer
from tfnas.engine.api import run_api_job
from tfnas.engine.progress import print_line
from tfnas.nets.spec import NetSpec
from tfnas.nets.spec_json import save_spec
from tfnas.records import TrainSummary
from tfnas.train.job import TRAIN

# Where a network given as a `NetSpec` is written, so that config.json names a file.
GIVEN_ARCH_FILE = "given_arch.json"


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What `tfnas.train` returns.

    Attributes:
        model: The trained network behind the preprocessing: it takes images
            as the data had them (uint8-valued 0..255, or float in [0, 1]) at
            the training resolution, and returns class probabilities.
        network: The trained network itself (normalized images in, logits
            out), as `build_net(arch.json)` builds it; shares `model`'s weights.
        summary: The run's `train_summary.json`: test accuracy, params, MACs, history.
        output_dir: The run's folder (`model.weights.h5`, `arch.json`, checkpoints).
    """

    model: keras.Model
    network: keras.Model
    summary: TrainSummary
    output_dir: Path


def predicting_model(network: keras.Model, input_scale: float) -> keras.Model:
    """`network` behind the normalization of training, with a softmax.

    Args:
        network: The trained network (normalized images in, logits out).
        input_scale: What its input is multiplied by to get 0..255 values.
    """
    shape = network.input_shape[1:]
    images = keras.Input(shape, dtype="float32", name="images")
    scaled = keras.layers.Rescaling(input_scale, name="to_0_255")(images)
    logits = network(normalization_layer(shape[-1])(scaled))
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(images, probabilities, name=f"{network.name}_predicting")


def train(
    arch: NetSpec | str | Any,
    data: Any,
    *,
    output_dir: str | Path,
    experiment: str | None = None,
    validation_data: Any = None,
    test_data: Any = None,
    resume: bool = False,
    verbose: int = 1,
    log: Callable[[str], None] = print_line,
    **values: Any,
) -> TrainResult:
    """Trains `arch` on `data` from scratch, as `python -m tfnas.train` does.

    Args:
        arch: A `NetSpec` (a search result's `net`), a search result, or what
            `--arch` takes: a registered name, an `arch.json`, a `net.config`
            (a string or a path).
        data: An `(x, y)` pair of NumPy arrays, a `tf.data.Dataset` of (image,
            label) elements or batches, or a dataset's name or path as
            `--dataset` takes it. Images: uint8 in 0..255 or float in [0, 1].
        output_dir: The run's folder.
        experiment: The preset of every value (default `demo`).
        validation_data: Data each epoch is scored on, as `data`; default
            `valid_size` examples held out of `data` (none by default: then the test data).
        test_data: Data the trained network is tested on at the end, as `data`.
        resume: Continue the run in `output_dir` from its last checkpoint.
        verbose: 1: a progress bar per epoch on a terminal or in a notebook,
            a line every `log_every` steps elsewhere; 0: epoch lines only.
        log: Where the lines go.
        **values: The config's values by name (`epochs=10`, `learning_rate=0.1`).

    Raises:
        ConfigError, DataError: What the command would refuse, named.
        DivergenceError: The loss diverged; no model is written.
    """
    output_dir = Path(output_dir)
    net = getattr(arch, "net", arch)  # a SearchResult gives its derived network
    if isinstance(net, os.PathLike):
        net = os.fspath(net)  # config.json records it as text
    write_arch = None
    if isinstance(net, NetSpec):
        spec = net
        net = str(output_dir / GIVEN_ARCH_FILE)

        def write_arch() -> None:  # once the folder is known to be free (or resumed)
            save_spec(spec, net)

    outcome, input_scale = run_api_job(
        TRAIN,
        data,
        output_dir,
        {"arch": net, **values},
        before_run=write_arch,
        experiment=experiment,
        validation_data=validation_data,
        test_data=test_data,
        resume=resume,
        verbose=verbose,
        log=log,
    )
    network = outcome.runner.model
    return TrainResult(predicting_model(network, input_scale), network, outcome.summary, output_dir)
