"""The latency targets a search or a prediction can name: `mobile`, `cpu`, `flops`, or a file.

- `mobile`: Google Pixel 1, TFLite (the ProxylessNAS paper's phone), as a
  cost model fitted to the authors' published measurements. Only the fitted
  coefficients ship (`data/mobile.json`); it covers any width and resolution.
- `cpu`: a host CPU like the one this project is developed on (2-core AMD
  EPYC VM), TFLite float32 on one thread: a table measured by
  `python -m tflite_bench.build_table --device=host` (`data/cpu_table.json`,
  read by its medians, with the calibration `tflite_bench.validate` stored)
  plus a cost model fitted to it (`data/cpu.json`) for shapes the table lacks.
- `flops`: millions of multiply-accumulates, exact.
- a path: a latency table (project JSON or the authors' YAML), with a cost
  model fitted to it for missing keys when it has enough entries; a device
  table adapted from another target (`tflite_bench.refresh`,
  `tfnas.latency.adapt`); or a cost model file written by
  `python -m tfnas.latency fit --out`.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfnas.errors import FieldError
from tfnas.io.json_files import parse_json, read_text
from tfnas.latency import cost_model
from tfnas.latency.adapt import AdaptedModel
from tfnas.latency.features import FEATURES
from tfnas.latency.model import LatencyModel, MacsModel, TableModel
from tfnas.latency.table import YAML_SUFFIXES, LatencyTable, load_table

DATA_DIR = Path(__file__).resolve().parent / "data"
BUILTIN_TARGETS = ("mobile", "cpu", "flops")
# A table with fewer entries than this gets no cost model: a fit with barely
# more equations than coefficients would predict missing keys badly.
MIN_ENTRIES_TO_FIT = 2 * len(FEATURES)


def load_target(target: str) -> LatencyModel:
    """The latency model of a built-in target name or of a table or cost-model file.

    Raises:
        FieldError: Unknown name (listing the choices), or an unreadable or invalid file.
    """
    if target == "flops":
        return MacsModel()
    if target == "mobile":
        return TableModel("mobile", None, cost_model.load_cost_model(DATA_DIR / "mobile.json"))
    if target == "cpu":
        table = load_table(DATA_DIR / "cpu_table.json")
        return TableModel("cpu", table, cost_model.load_cost_model(DATA_DIR / "cpu.json"))
    if not os.path.isfile(target):
        raise FieldError(
            f"unknown target {target!r}: expected one of {', '.join(BUILTIN_TARGETS)}, or the "
            "path of a latency table (.json from tflite_bench, or the authors' .yaml) or of a "
            "cost model (python -m tfnas.latency fit --out=PATH)"
        )
    name = Path(target).name
    if Path(target).suffix.lower() not in YAML_SUFFIXES:
        data = parse_json(read_text(target), target)
        if cost_model.is_cost_model(data):
            return TableModel(name, None, cost_model.load_cost_model(target))
    return table_model(name, load_table(target))


def table_model(name: str, table: LatencyTable) -> LatencyModel:
    """The latency model of a table: its entries first, then what predicts the rest.

    A device table adapted from another device (`metadata.base_target`)
    predicts missing keys with that device's model, rescaled
    (`tfnas.latency.adapt`); any other table with enough entries with a
    cost model fitted to them; a smaller one predicts nothing.

    Raises:
        FieldError: The base target cannot be loaded.
    """
    base = table.metadata.base_target
    if base is not None:
        try:
            base_model = load_target(base)
        except FieldError as error:
            raise FieldError(f"{name}: its base target: {error}") from None
        return AdaptedModel.of(name, table, base_model)
    model = None
    if len(table) >= MIN_ENTRIES_TO_FIT:
        model = cost_model.fit([table], with_loo=False)
    return TableModel(name, table, model)


def target_device(model: LatencyModel) -> str | None:
    """The device a latency model was measured or fitted on; None for `flops`."""
    if isinstance(model, AdaptedModel):
        return model.table.metadata.device
    if isinstance(model, TableModel):
        if model.table is not None:
            return model.table.metadata.device
        return model.cost_model.device if model.cost_model is not None else None
    return None
