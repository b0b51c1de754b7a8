"""Latency tables: measured latency per layer key, with the device they were measured on.

The project's format is versioned JSON::

    {"format": "tfnas.latency_table", "schema_version": 1,
     "metadata": {"device": "Pixel 1", "runtime": "tflite", "runtime_version": "2.21.0",
                  "threads": 1, "delegate": "none", "date": "2026-11-21",
                  "tool": "tflite_bench", "source": "..."},
     "entries": {"Conv-input:224x224x3-output:112x112x32":
                     {"mean": 4.08, "std": 0.50, "count": 982}, ...}}

Latencies are milliseconds. The authors' YAML tables (ProxylessNAS, with
`var`, and Once-for-All, with `std`) are read by `load_table` too, so users
can bring the published measurements; they carry no metadata, which the
caller may supply.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tfnas.errors import FieldError
from tfnas.io.atomic import write_text_atomic
from tfnas.io.fields import Fields, check_header
from tfnas.io.json_files import parse_json, read_text
from tfnas.latency.keys import LayerKey, parse_key

TABLE_FORMAT = "tfnas.latency_table"
SCHEMA_VERSION = 1
YAML_SUFFIXES = (".yaml", ".yml")


@dataclasses.dataclass(frozen=True)
class Measurement:
    """The latency of one key.

    Attributes:
        mean: Mean latency in milliseconds, > 0.
        std: Standard deviation in milliseconds, >= 0.
        count: How many runs the figures summarize, >= 1.
        median: Median latency in milliseconds, when the measuring tool gave one.
    """

    mean: float
    std: float
    count: int
    median: float | None = None

    def __post_init__(self) -> None:
        for field in ("mean", "std", "median"):
            value = getattr(self, field)
            if field == "median" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FieldError(f"expected a number, got {value!r}", field)
            if not math.isfinite(value):
                raise FieldError(f"expected a finite number, got {value!r}", field)
        if not self.mean > 0:
            raise FieldError(f"expected a latency > 0 ms, got {self.mean!r}", "mean")
        if self.median is not None and not self.median > 0:
            raise FieldError(f"expected a latency > 0 ms, got {self.median!r}", "median")
        if self.std < 0:
            raise FieldError(f"expected a spread >= 0, got {self.std!r}", "std")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise FieldError(f"expected a positive integer, got {self.count!r}", "count")

    @property
    def typical(self) -> float:
        """The figure a latency model uses: the median when measured, else the mean.

        On a shared machine, preemption adds rare long runs that move the mean
        and not the median; published tables give means only.
        """
        return self.median if self.median is not None else self.mean


@dataclasses.dataclass(frozen=True)
class TableMetadata:
    """Where and how a table was measured.

    Attributes:
        device: The device (phone model, CPU model).
        runtime: The inference runtime (`tflite`).
        runtime_version: Its version.
        threads: Threads the runtime used, or None when unknown.
        delegate: The delegate (`none`, `gpu`, `nnapi`, `xnnpack`).
        date: When it was measured (ISO date), or `unknown`.
        tool: What measured it (`tflite_bench 0.1`, `imported`).
        source: Free text: where the numbers came from (a file, a paper).
        precision: What the models measured were (`float32`, `int8`), or `unknown`.
        device_info: What the measuring tool recorded about the device (phone
            model, SoC, Android version, CPU governor, cores used; CPU model).
        history: Earlier measurement rounds this table replaced, oldest first:
            their date, tool, device and how many entries each round measured.
        calibration: A linear map from the sum of a network's entries to its
            measured end-to-end latency (`scale`, `offset_ms`, and how it was
            fitted), set by `python -m tflite_bench.validate --calibrate` or
            refitted by `python -m tflite_bench.refresh`; or None.
        base_target: For a device table adapted from another device's model
            (`tfnas.latency.adapt`): that target (`cpu`, `mobile`, a file),
            which predicts the keys this table lacks, rescaled; or None.
        networks: Whole networks measured end to end on this device
            (`tflite_bench.refresh`), oldest first: their `name`, `keys`,
            `resolution`, `measured_ms`, the table's prediction when they
            were measured (`predicted_ms`) and `date`. The calibration is
            fitted to them.
    """

    device: str = "unknown"
    runtime: str = "unknown"
    runtime_version: str = "unknown"
    threads: int | None = None
    delegate: str = "unknown"
    date: str = "unknown"
    tool: str = "unknown"
    source: str = ""
    precision: str = "unknown"
    device_info: Mapping[str, str] = dataclasses.field(default_factory=dict)
    history: tuple[Mapping[str, Any], ...] = ()
    calibration: Mapping[str, Any] | None = None
    base_target: str | None = None
    networks: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.calibration is not None:
            scale = self.calibration.get("scale")
            offset = self.calibration.get("offset_ms")
            if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
                raise FieldError(f"expected a number > 0, got {scale!r}", "calibration.scale")
            if isinstance(offset, bool) or not isinstance(offset, int | float):
                raise FieldError(f"expected a number, got {offset!r}", "calibration.offset_ms")


@dataclasses.dataclass(frozen=True)
class LatencyTable:
    """Measured latencies keyed by `LayerKey`, plus the metadata of the whole table.

    Attributes:
        metadata: Device and runtime the table was measured with.
        entries: Measurement per key.
    """

    metadata: TableMetadata
    entries: Mapping[LayerKey, Measurement]

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[LayerKey]:
        return iter(self.entries)

    def get(self, key: LayerKey) -> Measurement | None:
        """The measurement of `key`, or None when the table lacks it."""
        return self.entries.get(key)


def table_to_dict(table: LatencyTable) -> dict[str, Any]:
    """The JSON-ready form of a table (entries sorted by key string)."""
    entries = {str(k): _measurement_dict(m) for k, m in table.entries.items()}
    metadata = dataclasses.asdict(table.metadata)
    metadata["device_info"] = dict(table.metadata.device_info)
    metadata["history"] = [dict(round_) for round_ in table.metadata.history]
    metadata["networks"] = [dict(network) for network in table.metadata.networks]
    return {
        "format": TABLE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "metadata": metadata,
        "entries": dict(sorted(entries.items())),
    }


def _measurement_dict(measurement: Measurement) -> dict[str, Any]:
    values = dataclasses.asdict(measurement)
    if values["median"] is None:
        del values["median"]  # tables from tools without medians stay as they were
    return values


def table_from_dict(data: Any) -> LatencyTable:
    """Reads a table from its dict form.

    Raises:
        FieldError: Naming the bad field or entry (`entries['Conv-...'].mean: ...`).
    """
    fields = Fields(data)
    check_header(
        fields,
        TABLE_FORMAT,
        SCHEMA_VERSION,
        "table",
        "re-measure it with tflite_bench or use the tfnas release that wrote it",
    )
    meta = fields.sub("metadata")
    defaults = TableMetadata()
    kinds = {
        "threads": int,
        "device_info": dict,
        "history": list,
        "calibration": dict,
        "networks": list,
    }
    values = {
        f.name: meta.get(
            f.name,
            kinds.get(f.name, str),
            getattr(defaults, f.name),
            nullable=f.name in ("threads", "calibration", "base_target"),
        )
        for f in dataclasses.fields(TableMetadata)
    }
    meta.done()
    for name, value in values["device_info"].items():
        if not isinstance(value, str):
            raise FieldError(f"expected a string, got {value!r}", f"metadata.device_info.{name}")
    values["history"] = tuple(values["history"])
    values["networks"] = tuple(values["networks"])
    for index, network in enumerate(values["networks"]):
        if not isinstance(network, dict):
            raise FieldError(f"expected an object, got {network!r}", f"metadata.networks[{index}]")
    try:
        metadata = TableMetadata(**values)
    except FieldError as error:
        raise error.within("metadata") from None
    raw_entries = fields.get("entries", dict)
    fields.done()
    entries = {}
    for text, value in raw_entries.items():
        where = f"entries[{text!r}]"
        entry = Fields(value, where)
        values = {
            "mean": entry.get("mean", float),
            "std": entry.get("std", float),
            "count": entry.get("count", int),
            "median": entry.get("median", float, None, nullable=True),
        }
        entry.done()
        key, measurement = _entry(text, values, where)
        entries[key] = measurement
    return LatencyTable(metadata, entries)


def _entry(text: str, values: dict[str, Any], where: str) -> tuple[LayerKey, Measurement]:
    """Decodes one entry, with errors naming it."""
    try:
        key = parse_key(text)
    except FieldError as error:
        raise FieldError(error.message, where) from None
    try:
        return key, Measurement(**values)
    except FieldError as error:
        raise error.within(where) from None


def yaml_table(data: Any, metadata: TableMetadata) -> LatencyTable:
    """Reads the authors' YAML table (already parsed) in either dialect.

    Each entry is `KEY: {mean: ms, count: n}` plus `var` (ProxylessNAS) or
    `std` (Once-for-All).

    Raises:
        FieldError: Naming the entry that is malformed or has missing or negative values.
    """
    if not isinstance(data, dict) or not data:
        raise FieldError(f"expected a mapping of keys to measurements, got {type(data).__name__}")
    entries = {}
    for text, value in data.items():
        where = f"entries[{text!r}]"
        entry = Fields(value, where)
        mean = entry.get("mean", float)
        count = entry.get("count", int)
        if entry.has("var") == entry.has("std"):
            raise FieldError("expected exactly one of 'var' and 'std'", where)
        if entry.has("var"):
            var = entry.get("var", float)
            if var < 0:
                raise FieldError(f"expected a variance >= 0, got {var!r}", f"{where}.var")
            std = math.sqrt(var)
        else:
            std = entry.get("std", float)
        entry.done()
        key, measurement = _entry(text, {"mean": mean, "std": std, "count": count}, where)
        entries[key] = measurement
    return LatencyTable(metadata, entries)


def load_table(path: str | os.PathLike[str], metadata: TableMetadata | None = None) -> LatencyTable:
    """Reads a table: project JSON, or the authors' YAML (`.yaml`/`.yml`).

    Args:
        path: The file.
        metadata: For YAML tables, which carry none: the device and runtime
            to record (default: unknown device, `source` naming the file).

    Raises:
        FieldError: One line naming the file and the bad entry or field.
    """
    text = read_text(path)
    try:
        if Path(path).suffix.lower() in YAML_SUFFIXES:
            import yaml  # Only the authors' tables need it.

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as error:
                raise FieldError(f"not valid YAML: {str(error).splitlines()[0]}") from None
            default = TableMetadata(tool="imported", source=f"{Path(path).name} (authors' YAML)")
            return yaml_table(data, metadata or default)
        return table_from_dict(parse_json(text, str(path)))
    except FieldError as error:
        if str(error).startswith(f"{path}:"):
            raise
        raise FieldError(f"{path}: {error}") from None


def save_table(table: LatencyTable, path: str | os.PathLike[str]) -> Path:
    """Writes a table as project JSON, atomically, one entry per line. Returns the path."""
    data = table_to_dict(table)
    entries = data.pop("entries")
    head = json.dumps(data, indent=2)
    lines = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in entries.items())
    return write_text_atomic(path, head[:-2] + f',\n  "entries": {{\n{lines}\n  }}\n}}\n')


def today() -> str:
    """Today's date in ISO form, for table metadata."""
    return datetime.date.today().isoformat()
