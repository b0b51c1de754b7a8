"""`tfnas.records`: the typed summaries, written and read back strictly."""

import dataclasses
import json

import pytest

from tfnas import records
from tfnas.errors import FieldError
from tfnas.records import SearchSummary, TrainEpoch, TrainSummary


def _train_summary(**changes):
    values = dict(
        arch="mobilenet_v2",
        network="mobilenet_v2",
        dataset="demo",
        resolution=32,
        params=2_236_682,
        macs=6_115_000,
        epochs=6,
        steps=558,
        test_accuracy=0.997,
        test_loss=0.52,
        test_examples=1000,
        loss_peak_ratio=1.01,
        history=[TrainEpoch(1, 93, 1.9, 0.4, 12.5, valid_accuracy=0.5)],
    )
    return TrainSummary(**(values | changes))


def test_a_summary_reads_back_as_written_with_its_header_first(tmp_path):
    summary = _train_summary()
    path = records.save(summary, tmp_path / "train_summary.json")
    data = json.loads(path.read_text())
    assert list(data)[:2] == ["format", "schema_version"]
    assert data["format"] == "tfnas.train_summary" and data["test_accuracy"] == 0.997
    assert records.load(TrainSummary, path) == summary
    no_test = _train_summary(test_accuracy=None, test_loss=None, test_examples=0)
    assert records.load(TrainSummary, records.save(no_test, tmp_path / "b.json")) == no_test


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("macs"), "macs: required field is missing"),
        (lambda d: d.update(macs="6M"), "macs: expected an integer, got '6M'"),
        (lambda d: d.update(test_acuracy=0.9), "unknown field(s) test_acuracy"),
        (lambda d: d.update(format="tfnas.search_summary"), "format: expected 'tfnas.train_"),
        (lambda d: d.update(schema_version=2), "schema_version: this file has version 2"),
        (lambda d: d.update(loss_peak_ratio=None), "loss_peak_ratio: expected a number, got None"),
        (lambda d: d["history"][0].pop("step"), "history[0].step: required field is missing"),
        (lambda d: d["history"][0].update(lr=1), "history[0]: unknown field(s) lr"),
    ],
)
def test_a_bad_file_fails_with_one_line_naming_the_file_and_field(tmp_path, edit, message):
    path = records.save(_train_summary(), tmp_path / "train_summary.json")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(FieldError) as raised:
        records.load(TrainSummary, path)
    assert str(raised.value).startswith(f"{path}: ") and message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_search_summary_field_is_written_and_read():
    summary = SearchSummary(
        experiment="demo",
        space="demo",
        target="mobile",
        unit="ms",
        target_latency=None,
        loss="abs",
        mode="two",
        latency=0.55,
        latency_measured_parts=8,
        latency_predicted_parts=0,
        expected_latency=0.57,
        macs=1_100_000,
        params=40_000,
        blocks=7,
        ops=["3x3_MBConv3", "Zero"],
        choices=[0, 6],
        valid_accuracy=0.98,
        loss_peak_ratio=0.99,
        test_accuracy=0.96,
        weight_steps=1092,
        alphas=[[0.1, -0.1], [0.0, 0.2]],
        probabilities=[[0.55, 0.45], [0.45, 0.55]],
    )
    data = records.to_json(summary)
    assert len(data) == 2 + len(dataclasses.fields(SearchSummary)) == 24
    assert records.from_json(SearchSummary, json.loads(json.dumps(data))) == summary
