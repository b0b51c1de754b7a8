"""Validation of a table against whole networks: sampling, figures, calibration, the command."""

import json
from pathlib import Path

import pytest
from commands import run_module

from tflite_bench.build_table import load_space
from tflite_bench.runners import Timing
from tflite_bench.validate import (
    Comparison,
    ValidationError,
    calibrate_table,
    figures,
    fit_calibration,
    sample_architectures,
    table_sum,
    validate,
)
from tfnas.latency.model import TableModel, net_latency
from tfnas.latency.table import LatencyTable, TableMetadata, load_table
from tfnas.nets.spaces import demo

SPACE_FLAGS = ("--space=demo", "--resolution=16", "--width_mult=0.5")
FAST = ("--num_runs=3", "--warmup_runs=1", "--min_seconds=0")


@pytest.fixture(scope="module")
def table_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("table") / "host.json"
    result = run_module("tflite_bench.build_table", *SPACE_FLAGS, *FAST, f"--out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_samples_are_distinct_seeded_and_bounded():
    space = demo()
    first = sample_architectures(space, 20, seed=3)
    assert len(set(first)) == 20 and first == sample_architectures(space, 20, seed=3)
    assert first != sample_architectures(space, 20, seed=4)
    assert all(0 <= c < 7 for choices in first for c in choices)
    with pytest.raises(ValidationError, match="--archs=10000000: the space has only"):
        sample_architectures(space, 10_000_000, seed=0)


def test_figures_are_the_usual_error_measures():
    comparisons = [Comparison((0,), 11.0, 10.0), Comparison((1,), 18.0, 20.0)]
    result = figures(comparisons)
    assert result["rmse_ms"] == pytest.approx(((1 + 4) / 2) ** 0.5)
    assert result["mape"] == pytest.approx((0.1 + 0.1) / 2)
    assert result["max_ape"] == pytest.approx(0.1) and result["within_10pct"] == 1.0
    assert figures([Comparison((0,), 12.0, 10.0)])["within_10pct"] == 0.0


def test_calibration_recovers_a_linear_relation():
    comparisons = [Comparison((i,), s, 1.5 * s - 0.25) for i, s in enumerate([1.0, 2.0, 4.0])]
    scale, offset = fit_calibration(comparisons)
    assert scale == pytest.approx(1.5) and offset == pytest.approx(-0.25)
    assert figures(comparisons, scale, offset)["mape"] == pytest.approx(0, abs=1e-9)


def test_a_table_missing_a_key_of_the_space_is_named(table_path):
    table = load_table(table_path)
    space = load_space("demo", 16, 0.5)
    choices = sample_architectures(space, 1, 0)[0]
    assert table_sum(table, space, choices) > 0
    other = load_space("demo", 24, 0.5)
    with pytest.raises(ValidationError, match="no entry for Conv-input:24x24x3.*build_table"):
        table_sum(table, other, choices)


def test_a_slow_pass_does_not_move_a_networks_figure(table_path):
    class BurstyRunner:
        """Every network takes 1 ms, except in the second pass (a burst of load)."""

        device = "bursty"
        calls = 0

        def time(self, flatbuffer, name):
            self.calls += 1
            value = 10.0 if 3 <= self.calls <= 4 else 1.0
            return Timing(value, value, 0.0, 1)

    runner = BurstyRunner()
    space = load_space("demo", 16, 0.5)
    table = load_table(table_path)
    comparisons = validate(runner, table, space, count=2, passes=3, log=lambda line: None)
    assert runner.calls == 6 and [c.measured_ms for c in comparisons] == [1.0, 1.0]


def test_the_command_reports_plots_and_writes_its_results(table_path, tmp_path):
    plot, results = tmp_path / "scatter.png", tmp_path / "validate.json"
    result = run_module(
        "tflite_bench.validate",
        f"--table={table_path}",
        *SPACE_FLAGS,
        *FAST,
        "--archs=3",
        f"--plot={plot}",
        f"--results={results}",
        "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["count"] == 3 and summary["rmse_ms"] >= 0
    assert 0 <= summary["within_10pct"] <= 1 and summary["mape"] >= 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(json.loads(results.read_text())["architectures"]) == 3


def test_a_stored_calibration_is_what_targets_apply_and_later_runs_report(table_path, tmp_path):
    # Calibration is fitted to measurements; synthetic ones make the fit exact and the test
    # independent of timing noise on tiny networks.
    path = tmp_path / "calibrated.json"
    path.write_bytes(table_path.read_bytes())
    table = load_table(path)
    space = load_space("demo", 16, 0.5)
    samples = sample_architectures(space, 4, seed=5)
    comparisons = [
        Comparison(c, table_sum(table, space, c), 1.5 * table_sum(table, space, c) + 0.25)
        for c in samples
    ]
    calibration = calibrate_table(path, table, comparisons, space)
    assert calibration["scale"] == pytest.approx(1.5)
    assert calibration["offset_ms"] == pytest.approx(0.25) and calibration["archs"] == 4
    calibrated = load_table(path)
    assert calibrated.metadata.calibration == calibration
    # A target on the calibrated table predicts scale * sum + offset for whole networks.
    choices = sample_architectures(space, 1, 7)[0]
    raw = table_sum(calibrated, space, choices)
    predicted = net_latency(TableModel("host", calibrated, None), space.select(choices)).total
    assert predicted == pytest.approx(1.5 * raw + 0.25)
    uncalibrated = LatencyTable(TableMetadata(), calibrated.entries)
    assert net_latency(TableModel("raw", uncalibrated, None), space.select(choices)).total == (
        pytest.approx(raw)
    )
    # A later validation reports the figures with the stored calibration too.
    again = run_module(
        "tflite_bench.validate", f"--table={path}", *SPACE_FLAGS, *FAST, "--archs=2", "--json"
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "with_stored_calibration" in json.loads(again.stdout.strip().splitlines()[-1])


def test_bad_options_give_one_error_line(table_path):
    result = run_module("tflite_bench.validate", f"--table={table_path}", *SPACE_FLAGS, "--archs=0")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: --archs=0: expected an integer >= 1" in result.stderr
