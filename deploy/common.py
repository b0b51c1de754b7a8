"""What export and QAT share.

A finished train run as deploy reads it, the images a client would send,
int8 calibration batches, and the error both report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tfnas.datasets.pipeline import center_crop
from tfnas.datasets.sources import load_source
from tfnas.errors import UserError
from tfnas.nets.builder import build_net
from tfnas.nets.spec_json import load_spec
from tfnas.train.config import load_config

REPRESENTATIVE_IMAGES = 200  # int8 calibration images (from the training split)


class ExportError(UserError, ValueError):
    """A model folder or an option that cannot be exported; the message says what to do."""


def _required(model_dir: Path, name: str) -> Path:
    path = model_dir / name
    if not path.exists():
        raise ExportError(
            f"{path} is missing: --model_dir must be the output folder of a finished "
            "`python -m tfnas.train` run (config.json, arch.json, model.weights.h5)"
        )
    return path


def load_trained(model_dir: str | Path) -> tuple[Any, Any, Any]:
    """(train config, network spec, Keras model with the trained weights) of a train output."""
    model_dir = Path(model_dir)
    config = load_config(str(_required(model_dir, "config.json")))
    spec = load_spec(_required(model_dir, "arch.json"))
    model = build_net(spec)
    model.load_weights(str(_required(model_dir, "model.weights.h5")))
    return config, spec, model


def client_images(config: Any, count: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Up to `count` images of a split as a client would send them (0..255), with labels.

    `split` is `test` (held out from training; the training split when the
    data has no test split) or `train` (for int8 calibration).
    """
    given = config.data
    source = load_source(given.dataset, given.data_dir, given.manual_dir, given.download)
    data = source.test if split == "test" and source.test is not None else source.train
    images, labels = [], []
    for image, label in data.take(count):
        images.append(center_crop(source.decode(image), given.resolution).numpy())
        labels.append(int(label))
    return np.stack(images).astype(np.float32), np.array(labels)


def batches_of(images: np.ndarray, size: int = 20) -> Callable[[], Iterator[np.ndarray]]:
    """A function yielding `images` in batches (what int8 calibration reads)."""

    def batches() -> Iterator[np.ndarray]:
        for start in range(0, len(images), size):
            yield images[start : start + size]

    return batches
