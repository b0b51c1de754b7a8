"""A linear cost model that predicts the latency of keys a table lacks.

latency(key) = sum_i c_i * feature_i(key), with c_i >= 0 fitted by
non-negative least squares to the relative error of a device's measured
table (a 0.3 ms layer counts as much as a 20 ms one), so that no feature can
make a layer cheaper. Features are in `tfnas.latency.features`.

The fitted model is data: a versioned JSON file with its coefficients, the
device, and a fit report (where the data came from, leave-one-out error),
never the measurements themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from tfnas.errors import FieldError
from tfnas.io.atomic import write_text_atomic
from tfnas.io.fields import Fields, check_header
from tfnas.io.json_files import parse_json, read_text
from tfnas.latency.features import FEATURES, features
from tfnas.latency.keys import LayerKey
from tfnas.latency.table import LatencyTable

MODEL_FORMAT = "tfnas.latency_cost_model"
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ErrorSummary:
    """Absolute percentage errors of predictions, as fractions.

    Attributes:
        median_ape: Median of |predicted - measured| / measured.
        max_ape: Its maximum.
        count: How many entries were compared.
        worst: The key with the largest error.
    """

    median_ape: float
    max_ape: float
    count: int
    worst: str

    @classmethod
    def of(
        cls, keys: Sequence[LayerKey], predicted: np.ndarray, measured: np.ndarray
    ) -> ErrorSummary:
        """Summarizes the errors of `predicted` against `measured`."""
        ape = np.abs(predicted - measured) / measured
        return cls(float(np.median(ape)), float(ape.max()), len(keys), str(keys[int(ape.argmax())]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class CostModel:
    """Fitted coefficients of `FEATURES` for one device.

    Attributes:
        device: The device the coefficients were fitted for.
        coefficients: Milliseconds per unit of each feature, by feature name.
        report: Where the fit's data came from and how well it predicts
            (`sources`, `loo`, optionally `eval`), JSON-ready.
    """

    device: str
    coefficients: dict[str, float]
    report: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.coefficients) != FEATURES:
            raise FieldError(
                f"coefficients are for features {list(self.coefficients)}, this tfnas computes "
                f"{list(FEATURES)}; refit with `python -m tfnas.latency fit`",
                "coefficients",
            )
        for name, value in self.coefficients.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise FieldError(f"expected a number >= 0, got {value!r}", f"coefficients.{name}")

    def predict(self, key: LayerKey) -> float:
        """Predicted latency of `key` in ms.

        Raises:
            ValueError: When the model gives no positive latency for the key
                (none of its features has a fitted cost), rather than a made-up one.
        """
        value = float(np.dot(features(key), list(self.coefficients.values())))
        if not value > 0:
            raise ValueError(
                f"the cost model of {self.device!r} predicts {value} ms for {key}: none of its "
                "features has a fitted cost; measure this key and add it to the table"
            )
        return value


def _design(tables: Sequence[LatencyTable]) -> tuple[list[LayerKey], np.ndarray, np.ndarray]:
    keys = [key for table in tables for key in table]
    if not keys:
        raise ValueError("cannot fit a cost model to empty tables")
    x = np.array([features(key) for key in keys])
    y = np.array([table.entries[key].typical for table in tables for key in table])
    return keys, x, y


def _kept(drop: Collection[str]) -> np.ndarray:
    """Which feature columns a fit uses, given the features to hold at zero."""
    unknown = sorted(set(drop) - set(FEATURES))
    if unknown:
        raise ValueError(f"cannot drop {unknown}: not features; expected names from {FEATURES}")
    return np.array([name not in drop for name in FEATURES])


def _solve(x: np.ndarray, y: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimizing the squared relative error.

    Columns not in `kept` get a zero coefficient (an ablation).
    """
    weights = 1.0 / y
    columns = x[:, kept] * weights[:, None]
    solved, _ = nnls(columns, y * weights, maxiter=50 * x.shape[1])
    coefficients = np.zeros(x.shape[1])
    coefficients[kept] = solved
    return coefficients


def leave_one_out(tables: Sequence[LatencyTable], drop: Collection[str] = ()) -> ErrorSummary:
    """Error of predicting each entry from a model fitted to all the others.

    `drop` names features to hold at zero, as in `fit`.
    """
    keys, x, y = _design(tables)
    kept = _kept(drop)
    if len(keys) < 2:
        raise ValueError("leave-one-out needs at least two entries")
    predicted = np.empty_like(y)
    for i in range(len(keys)):
        rest = np.arange(len(keys)) != i
        predicted[i] = x[i] @ _solve(x[rest], y[rest], kept)
    return ErrorSummary.of(keys, predicted, y)


def evaluate(model: CostModel, table: LatencyTable) -> ErrorSummary:
    """Error of `model` on every entry of a table it may not have seen."""
    keys = list(table)
    coefficients = np.array(list(model.coefficients.values()))
    predicted = np.array([np.dot(features(k), coefficients) for k in keys])
    measured = np.array([table.entries[k].typical for k in keys])
    return ErrorSummary.of(keys, predicted, measured)


def fit(
    tables: Sequence[LatencyTable],
    sources: Sequence[str | os.PathLike[str]] = (),
    with_loo: bool = True,
    drop: Collection[str] = (),
) -> CostModel:
    """Fits the coefficients to the measured entries of `tables` (one device).

    Args:
        tables: Measured tables of one device.
        sources: The files they came from, recorded (name and SHA-256) in the report.
        with_loo: Whether to compute the leave-one-out error for the report.
        drop: Features held at zero, to measure what they add (an ablation);
            the report lists them.

    Returns:
        The fitted model; its report holds `sources`, `entries` and `loo`.

    Raises:
        ValueError: When `drop` names something that is not a feature.
    """
    keys, x, y = _design(tables)
    coefficients = _solve(x, y, _kept(drop))
    devices = sorted({t.metadata.device for t in tables})
    report: dict[str, Any] = {
        "sources": [_describe(Path(s)) for s in sources],
        "entries": len(keys),
        "objective": "non-negative least squares on relative error",
    }
    if drop:
        report["dropped"] = sorted(drop)
    if with_loo:
        report["loo"] = leave_one_out(tables, drop).as_dict()
    return CostModel(
        device=" + ".join(devices),
        coefficients={name: float(c) for name, c in zip(FEATURES, coefficients, strict=True)},
        report=report,
    )


def _describe(path: Path) -> dict[str, str]:
    """A source file by name and content hash, so the fit can be traced without copying it."""
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def model_to_dict(model: CostModel) -> dict[str, Any]:
    """The JSON-ready form of a cost model."""
    return {
        "format": MODEL_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "device": model.device,
        "coefficients": model.coefficients,
        "report": model.report,
    }


def model_from_dict(data: Any) -> CostModel:
    """Reads a cost model from its dict form; errors name the bad field."""
    fields = Fields(data)
    check_header(
        fields,
        MODEL_FORMAT,
        SCHEMA_VERSION,
        "cost model",
        "refit it with `python -m tfnas.latency fit`",
    )
    model = CostModel(
        device=fields.get("device", str),
        coefficients=fields.get("coefficients", dict),
        report=fields.get("report", dict, {}),
    )
    fields.done()
    return model


def is_cost_model(data: Any) -> bool:
    """Whether parsed JSON is a cost-model file (rather than a table)."""
    return isinstance(data, dict) and data.get("format") == MODEL_FORMAT


def load_cost_model(path: str | os.PathLike[str]) -> CostModel:
    """Reads a cost model file; errors are one line naming the file and field."""
    try:
        return model_from_dict(parse_json(read_text(path), str(path)))
    except FieldError as error:
        if str(error).startswith(f"{path}:"):
            raise
        raise FieldError(f"{path}: {error}") from None


def save_cost_model(model: CostModel, path: str | os.PathLike[str]) -> Path:
    """Writes a cost model as JSON, atomically. Returns the path."""
    return write_text_atomic(path, json.dumps(model_to_dict(model), indent=2) + "\n")
