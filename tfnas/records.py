"""The records one part of tfnas hands to another: typed, saved as versioned JSON.

`search_summary.json` and `train_summary.json` are the contract between the
search, training, the comparison and the user's own code; `result.json` and
`retrain.json` between the comparison's stages (and its `--resume`). As dataclasses, a
misspelled field fails where it is written (or flagged by a type checker), not
25 minutes later where it is read; `load` reads a file strictly
(`tfnas.fields`): a missing, mistyped or unknown field fails with one line
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

from tfnas.atomic import write_text_atomic
from tfnas.errors import SpecError
from tfnas.fields import Fields, check_header
from tfnas.spec_json import parse_json, read_text


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
    history: list[dict[str, Any]]  # per epoch: step, train loss and accuracy, seconds, ...


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
    VERSION: ClassVar[int] = 1

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
    trial_rows: list[dict[str, Any]] | None  # a tuner's every trial; None for the search


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
    trials: list[dict[str, Any]]  # per trial: its values, valid accuracy, whether it diverged


AnyRecord = TrainSummary | SearchSummary | MethodResult | RetrainResult | TuneSummary
Record = TypeVar("Record", TrainSummary, SearchSummary, MethodResult, RetrainResult, TuneSummary)


def _kind(annotation: Any) -> tuple[type, bool]:
    """(the JSON kind a field's annotation asks for, whether null is allowed)."""
    nullable = False
    if isinstance(annotation, types.UnionType):  # X | None
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(members) < len(typing.get_args(annotation))
        (annotation,) = members
    return typing.get_origin(annotation) or annotation, nullable


def to_json(record: AnyRecord) -> dict[str, Any]:
    """The record as the JSON object of its file, header first."""
    header = {"format": record.FORMAT, "schema_version": record.VERSION}
    return header | dataclasses.asdict(record)


def from_json(cls: type[Record], data: Any) -> Record:
    """Reads a record from a parsed JSON object, strictly.

    Raises:
        SpecError: Another format or version, or a field missing, of the wrong
            type, or unknown; the message names the field.
    """
    fields = Fields(data)
    check_header(
        fields, cls.FORMAT, cls.VERSION, "file", "rerun the command with this tfnas to rewrite it"
    )
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        kind, nullable = _kind(hints[field.name])
        values[field.name] = fields.get(field.name, kind, nullable=nullable)
    fields.done()
    return cls(**values)


def save(record: AnyRecord, path: str | os.PathLike[str]) -> Path:
    """Writes the record to `path` atomically (a temp file, then a rename)."""
    return write_text_atomic(Path(path), json.dumps(to_json(record), indent=2) + "\n")


def load(cls: type[Record], path: str | os.PathLike[str], fix: str = "") -> Record:
    """Reads the record of `cls` from the file at `path`.

    Raises:
        SpecError: One line naming the file and the field, then `fix` (what the
            user can do about it) where given.
    """
    data = parse_json(read_text(path), str(path))
    try:
        return from_json(cls, data)
    except SpecError as error:
        raise SpecError(f"{path}: {error}" + (f"; {fix}" if fix else "")) from None
