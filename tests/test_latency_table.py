"""Latency tables: project JSON round trip, the authors' YAML dialects, clear errors."""

import json
import math

import pytest

from tfnas.errors import FieldError, SpecError
from tfnas.latency.keys import parse_key
from tfnas.latency.table import (
    SCHEMA_VERSION,
    LatencyTable,
    Measurement,
    TableMetadata,
    load_table,
    save_table,
    table_to_dict,
)

CONV = "Conv-input:32x32x3-output:16x16x8"
BLOCK = "expanded_conv-input:16x16x8-output:8x8x16-expand:3-kernel:3-stride:2-idskip:0"
OFA_BLOCK = (
    "expanded_conv-input:8x8x16-output:8x8x16-expand:48-kernel:5-stride:1-idskip:1-se:1-hs:1"
)


def small_table() -> LatencyTable:
    metadata = TableMetadata(device="test phone", runtime="tflite", threads=1, tool="pytest")
    entries = {
        parse_key(CONV): Measurement(0.5, 0.01, 10),
        parse_key(BLOCK): Measurement(1.25, 0.05, 12),
    }
    return LatencyTable(metadata, entries)


def test_json_round_trip(tmp_path):
    path = save_table(small_table(), tmp_path / "t.json")
    loaded = load_table(path)
    assert loaded == small_table()
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary file left


def test_proxylessnas_yaml_converts_variance_to_spread(tmp_path):
    path = tmp_path / "pixel.yaml"
    path.write_text(f"{CONV}:\n  count: 982\n  mean: 4.0\n  var: 0.25\n")
    table = load_table(path)
    assert table.get(parse_key(CONV)) == Measurement(4.0, 0.5, 982)
    assert table.metadata.tool == "imported" and "pixel.yaml" in table.metadata.source


def test_once_for_all_yaml_with_std_and_its_extra_kinds(tmp_path):
    path = tmp_path / "note.yml"
    pool = "AvgPool2D-input:5x5x1152-output:1x1x1152"
    path.write_text(
        f"{pool}:\n  count: 4\n  mean: 0.01\n  std: 0.001\n"
        f"{OFA_BLOCK}:\n  count: 3\n  mean: 0.9\n  std: 0.02\n"
    )
    table = load_table(path)
    assert table.get(parse_key(OFA_BLOCK)) == Measurement(0.9, 0.02, 3)
    assert math.isclose(table.get(parse_key(pool)).mean, 0.01)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"mean": -1.0, "std": 0.1, "count": 3}, "mean: expected a latency > 0"),
        ({"std": 0.1, "count": 3}, "mean: required field is missing"),
        ({"mean": 1.0, "std": -0.1, "count": 3}, "std: expected a spread >= 0"),
        ({"mean": 1.0, "std": 0.1, "count": 0}, "count: expected a positive integer"),
        ({"mean": "fast", "std": 0.1, "count": 3}, "mean: expected a number"),
        ({"mean": 1.0, "std": 0.1, "count": 3, "p99": 1.0}, "unknown field(s) p99"),
        ({"mean": 1.0, "std": 0.1, "count": 3, "median": 0.0}, "median: expected a latency > 0"),
    ],
)
def test_bad_json_entries_name_the_file_and_entry(tmp_path, entry, message):
    data = table_to_dict(small_table())
    data["entries"][BLOCK] = entry
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FieldError) as error:
        load_table(path)
    text = str(error.value)
    assert text.startswith(f"{path}: entries['{BLOCK}']") and message in text


def test_measuring_tools_metadata_round_trips(tmp_path):
    entries = dict(small_table().entries)
    key = next(iter(entries))
    entries[key] = Measurement(1.0, 0.1, 30, median=0.9)
    metadata = TableMetadata(
        device="phone",
        precision="int8",
        device_info={"model": "Pixel 1", "cpu_governor": "performance"},
        history=({"date": "2026-01-01", "entries": 3, "replaced": 1},),
        calibration={"scale": 1.1, "offset_ms": -0.2, "archs": 30},
    )
    path = save_table(LatencyTable(metadata, entries), tmp_path / "t.json")
    loaded = load_table(path)
    assert loaded.metadata == metadata and loaded.get(key).median == 0.9
    assert loaded.get(key).typical == 0.9 and Measurement(1.0, 0.1, 3).typical == 1.0


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"calibration": {"scale": 0.0, "offset_ms": 0.0}}, "metadata.calibration.scale"),
        ({"calibration": {"scale": 1.0}}, "metadata.calibration.offset_ms: expected a number"),
        ({"device_info": {"cores": 4}}, "metadata.device_info.cores: expected a string"),
        ({"history": "yesterday"}, "metadata.history: expected"),
    ],
)
def test_bad_metadata_is_named(tmp_path, metadata, message):
    data = table_to_dict(small_table())
    data["metadata"].update(metadata)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FieldError, match=message):
        load_table(path)


def test_unknown_key_format_names_the_key(tmp_path):
    data = table_to_dict(small_table())
    data["entries"]["MBConv-112x112"] = {"mean": 1.0, "std": 0.1, "count": 3}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FieldError, match=r"entries\['MBConv-112x112'\]: unknown key format"):
        load_table(path)


def test_wrong_version_says_how_to_fix(tmp_path):
    data = table_to_dict(small_table())
    data["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FieldError, match="schema_version: this table has version 2.*re-measure"):
        load_table(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{CONV}:\n  count: 3\n  mean: 1.0\n", "exactly one of 'var' and 'std'"),
        (f"{CONV}:\n  count: 3\n  mean: 1.0\n  var: 0.1\n  std: 0.3\n", "exactly one"),
        (f"{CONV}:\n  count: 3\n  mean: 1.0\n  var: -0.1\n", "var: expected a variance >= 0"),
        (f"{CONV}:\n  count: 3\n  var: 0.1\n", "mean: required field is missing"),
        ("just text", "expected a mapping"),
        (f"{CONV}: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_yaml_tables_fail_with_one_line(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(FieldError) as error:
        load_table(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_published_tables_import(anchors):
    pixel = load_table(anchors / "latency" / "pixel1_proxylessnas_mobile_trim.yaml")
    assert len(pixel) == 72
    for resolution in (160, 176, 192, 208):
        note = load_table(anchors / "latency" / f"note10_ofa_{resolution}.yaml")
        kinds = {key.kind for key in note}
        assert {"AvgPool2D", "Conv_2", "expanded_conv"} <= kinds
        assert all(key.is_once_for_all for key in note if key.kind == "expanded_conv")


def test_a_table_that_is_not_json_is_a_field_error_not_a_spec_error(tmp_path):
    path = tmp_path / "table.json"
    path.write_text("{broken")
    with pytest.raises(FieldError, match=r"table.json: not valid JSON \(line 1") as raised:
        load_table(path)
    assert not isinstance(raised.value, SpecError)  # a table is not a network spec
