"""The records one part of tfnas hands to another: typed, saved as versioned JSON.

`search_summary.json` and `train_summary.json` are the contract between the
search, training, the comparison and the user's own code; `result.json` and
`retrain.json` between the comparison's stages (and its `--resume`). As dataclasses, a
misspelled field fails where it is written (or flagged by a type checker), not
25 minutes later where it is read; `load` reads a file strictly
(`tfnas.io.fields`): a missing, mistyped or unknown field fails with one line
that names it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from tfnas.errors import FieldError
from tfnas.io.atomic import write_text_atomic
from tfnas.io.fields import Fields, check_header
from tfnas.io.json_files import parse_json, read_text


@dataclasses.dataclass(frozen=True)
class TrainEpoch:
    """One epoch of `tfnas.train` (`TrainSummary.history`, and its checkpoints)."""

    epoch: int  # 1-based
    step: int  # weight steps at its end
    train_loss: float
    train_accuracy: float
    seconds: float
    # Evaluated after the epoch: the held-out split when there is one, else the
    # test split (then valid_accuracy is None); None when neither exists.
    valid_accuracy: float | None = None
    test_accuracy: float | None = None


@dataclasses.dataclass(frozen=True)
class SearchEpoch:
    """One epoch of a search (its checkpoints, `arch_log.txt` and `alpha_history.png`)."""

    epoch: int  # 1-based
    phase: str  # warmup or search
    step: int
    train_loss: float
    train_acc: float
    valid_accuracy: float | None  # the most likely network with the supernet's weights
    expected_latency: float
    derived_latency: float
    choices: list[int]
    probabilities: list[list[float]]
    entropy: list[float]
    seconds: float
    train_arch_loss: float | None = None  # None in epochs without arch steps
    train_arch_acc: float | None = None


@dataclasses.dataclass(frozen=True)
class SpaceTrial:
    """One keras-tuner trial over a search space (`tfnas.baselines`), as `MethodResult` keeps it."""

    trial: str
    choices: list[int]  # the candidate of each choice block
    values: dict[str, Any]  # the trial's hyperparameters, as keras-tuner has them
    score: float  # what the tuner maximizes: accuracy under `reject`, else the reward
    val_accuracy: float
    latency: float  # predicted, on the target
    trained_steps: int
    trained_images: int
    diverged: bool


@dataclasses.dataclass(frozen=True)
class TuneTrial:
    """One trial of `tfnas.train --tune` (`TuneSummary.trials`)."""

    trial: str
    learning_rate: float
    weight_decay: float
    dropout: float
    valid_accuracy: float  # 0 when it diverged
    diverged: bool


@dataclasses.dataclass(frozen=True)
class TrainSummary:
    """`train_summary.json`: what `tfnas.train` measured of the network it trained."""

    FORMAT: ClassVar[str] = "tfnas.train_summary"
    VERSION: ClassVar[int] = 1

    arch: str  # as given: a registered name, arch.json or net.config
    network: str
    dataset: str
    resolution: int
    params: int
    macs: int
    epochs: int
    steps: int
    test_accuracy: float | None  # None: the data has no test split (or it was not asked for)
    test_loss: float | None
    test_examples: int
    # How near the loss came to divergence: 1 is its start, 1.5 stops the run.
    loss_peak_ratio: float
    history: list[TrainEpoch]


@dataclasses.dataclass(frozen=True)
class SearchSummary:
    """`search_summary.json`: the network a search derived, its latency and accuracy."""

    FORMAT: ClassVar[str] = "tfnas.search_summary"
    VERSION: ClassVar[int] = 1

    experiment: str
    space: str
    target: str
    unit: str
    target_latency: float | None  # None: no latency term
    loss: str  # the latency loss (gradient modes) or reward (reinforce)
    mode: str
    latency: float  # the derived network's, on the target
    latency_measured_parts: int
    latency_predicted_parts: int
    expected_latency: float  # E[LAT] under the final probabilities
    macs: int
    params: int
    blocks: int
    ops: list[str]  # per choice block, the chosen candidate's name
    choices: list[int]
    valid_accuracy: float | None
    # How near the weights' loss came to divergence: 1 is its start, 1.5 stops the run.
    loss_peak_ratio: float
    test_accuracy: float | None  # the derived network with the supernet's weights
    weight_steps: int
    alphas: list[list[float]]
    probabilities: list[list[float]]


@dataclasses.dataclass(frozen=True)
class MethodResult:
    """`result.json` of one method of `tfnas.compare`: its winner and what it cost."""

    FORMAT: ClassVar[str] = "tfnas.compare_method"
    # 2: typed trial rows (`SpaceTrial`: integer steps, a boolean `diverged`).
    VERSION: ClassVar[int] = 2

    method: str  # proxylessnas, random, bayesian, hyperband
    choices: list[int]
    ops: list[str]
    arch: str  # the winner's arch.json
    images: int  # training images spent, weights and architecture together
    weight_images: int
    arch_images: int
    seconds: float
    trials: int | None  # None for the search (one run, no trials)
    trained_trials: int | None
    valid_accuracy: float | None
    predicted_latency: float
    trial_rows: list[SpaceTrial] | None  # a tuner's every trial, best first; None for the search


@dataclasses.dataclass(frozen=True)
class RetrainResult:
    """`retrain.json` of one method of `tfnas.compare`: its winner retrained per seed."""

    FORMAT: ClassVar[str] = "tfnas.compare_retrain"
    VERSION: ClassVar[int] = 1

    test_accuracies: list[float]
    test_accuracy: float  # their mean
    retrain_seconds: float
    params: int
    macs: int


@dataclasses.dataclass(frozen=True)
class TuneSummary:
    """`tune_summary.json` of `tfnas.train --tune`: the trials and the values chosen."""

    FORMAT: ClassVar[str] = "tfnas.tune_summary"
    VERSION: ClassVar[int] = 1

    tuner: str  # bayesian or random
    trial_epochs: int
    held_out: int  # images each trial is scored on
    seconds: float
    before: dict[str, float]  # learning_rate, weight_decay, dropout as given
    best: dict[str, float]  # ... as the best trial had them
    best_valid_accuracy: float
    trials: list[TuneTrial]  # best first


AnyRecord = TrainSummary | SearchSummary | MethodResult | RetrainResult | TuneSummary
Record = TypeVar("Record", TrainSummary, SearchSummary, MethodResult, RetrainResult, TuneSummary)


ENTRIES = (TrainEpoch, SearchEpoch, SpaceTrial, TuneTrial)
Entry = TypeVar("Entry", TrainEpoch, SearchEpoch, SpaceTrial, TuneTrial)


def _kind(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without None, whether null is allowed)."""
    nullable = False
    if isinstance(annotation, types.UnionType):  # X | None
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        (annotation,) = members
    return annotation, nullable


def _read_fields(cls: type, fields: Fields) -> dict[str, Any]:
    """The values of `cls`'s fields from `fields`, lists of entries read as entries."""
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        annotation, nullable = _kind(hints[field.name])
        kind = typing.get_origin(annotation) or annotation
        default = field.default if field.default is not dataclasses.MISSING else ...
        options = {} if default is ... else {"default": default}
        value = fields.get(field.name, kind, nullable=nullable, **options)
        item = (typing.get_args(annotation) or (None,))[0]
        if kind is list and item in ENTRIES and value is not None:
            where = f"{fields.where}.{field.name}" if fields.where else field.name
            value = [
                entry_from_json(item, entry, f"{where}[{index}]")
                for index, entry in enumerate(value)
            ]
        values[field.name] = value
    fields.done()
    return values


def entry_from_json(cls: type[Entry], data: Any, where: str = "") -> Entry:
    """Reads one entry of a record's list (an epoch, a trial), strictly; no header."""
    return cls(**_read_fields(cls, Fields(data, where)))


def to_json(record: AnyRecord) -> dict[str, Any]:
    """The record as the JSON object of its file, header first."""
    header = {"format": record.FORMAT, "schema_version": record.VERSION}
    return header | dataclasses.asdict(record)


def from_json(cls: type[Record], data: Any) -> Record:
    """Reads a record from a parsed JSON object, strictly.

    Raises:
        FieldError: Another format or version, or a field missing, of the wrong
            type, or unknown; the message names the field.
    """
    fields = Fields(data)
    check_header(
        fields, cls.FORMAT, cls.VERSION, "file", "rerun the command with this tfnas to rewrite it"
    )
    return cls(**_read_fields(cls, fields))


def save(record: AnyRecord, path: str | os.PathLike[str]) -> Path:
    """Writes the record to `path` atomically (a temp file, then a rename)."""
    return write_text_atomic(Path(path), json.dumps(to_json(record), indent=2) + "\n")


def load(cls: type[Record], path: str | os.PathLike[str], fix: str = "") -> Record:
    """Reads the record of `cls` from the file at `path`.

    Raises:
        FieldError: One line naming the file and the field, then `fix` (what the
            user can do about it) where given.
    """
    data = parse_json(read_text(path), str(path))
    try:
        return from_json(cls, data)
    except FieldError as error:
        raise FieldError(f"{path}: {error}" + (f"; {fix}" if fix else "")) from None
