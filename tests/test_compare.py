"""`python -m tfnas.compare`: equal budgets, the Pareto flags, the report, bad flags."""

import json

import pytest
from commands import error_lines, run_module

from tfnas.compare import methods, report
from tfnas.compare.config import ConfigError, resolve
from tfnas.compare.evaluate import pareto_optimal
from tfnas.datasets.pipeline import Pipeline
from tfnas.datasets.sources import demo_source
from tfnas.errors import FieldError
from tfnas.latency.model import net_latency
from tfnas.latency.targets import load_target
from tfnas.nets.load import load_net
from tfnas.records import MethodResult, RetrainResult

TINY = {"steps_per_epoch": 3, "warmup_epochs": 1, "search_epochs": 2, "train_epochs": 2}


def test_pareto_optimal_points_are_the_ones_nothing_dominates():
    points = [(1.0, 0.90), (2.0, 0.95), (1.5, 0.90), (2.0, 0.93), (0.5, 0.80), (1.0, 0.90)]
    # (1.5, .90) loses to (1.0, .90); (2.0, .93) to (2.0, .95); equal points both stay.
    assert pareto_optimal(points) == [True, True, False, False, True, True]


def row(method, latency, accuracy):
    tuner = method != "proxylessnas"
    found = MethodResult(
        method=method,
        choices=[0, 2],
        ops=["3x3_MBConv3", "Zero"],
        arch=f"{method}/arch.json",
        images=1000,
        weight_images=1000,
        arch_images=0,
        seconds=90.0,
        trials=7 if tuner else None,
        trained_trials=3 if tuner else None,
        valid_accuracy=accuracy,
        predicted_latency=latency,
        trial_rows=None,
    )
    trained = RetrainResult([accuracy], accuracy, 30.0, 1000, 2000)
    return report.ComparisonRow(found, trained, latency / 10, latency / 20)


def settings(**extra):
    return {
        "experiment": "demo",
        "target": "mobile",
        "unit": "ms",
        "target_latency": 1.0,
        "budget_images": 1000,
        "search_weight_images": 700,
        "search_arch_images": 300,
        "train_epochs": 6,
        "retrain_seeds": 1,
        "device": "a test CPU",
        "passes": 3,
        **extra,
    }


def test_the_report_flags_the_front_and_says_who_won(tmp_path):
    rows = [row("proxylessnas", 0.95, 0.97), row("random", 0.80, 0.96), row("bayesian", 1.2, 0.98)]
    record = report.build_report(rows, settings(), seconds=600)
    assert [r.pareto_predicted for r in record["rows"]] == [True, True, True]
    rows[2] = row("bayesian", 1.2, 0.95)  # slower and less accurate
    record = report.build_report(rows, settings(), seconds=600)
    assert [r.pareto_predicted for r in record["rows"]] == [True, True, False]
    text = report.markdown(record)
    assert "| proxylessnas | 1,000 | 1.5 min | – | 0.950 |" in text
    assert "| random | 1,000 | 1.5 min | 7 (3) | 0.800 |" in text
    assert "Most accurate after retraining: proxylessnas (0.9700)" in text
    assert "Fastest within the limit (predicted): random (0.800)" in text
    assert "Over the limit (predicted): bayesian." in text
    assert "1,000 training images (700 in the search's weight steps and 300" in text
    written = report.write_report(record, tmp_path)
    assert written["plot"].read_bytes()[:4] == b"\x89PNG"
    saved = json.loads(written["json"].read_text())
    assert saved["format"] == report.REPORT_FORMAT and len(saved["rows"]) == 3
    first = saved["rows"][0]  # one flat object per method, as the JSON has always had
    assert (first["method"], first["retrain_seconds"], first["measured_ms"]) == (
        "proxylessnas",
        30.0,
        0.95 / 20,
    )
    assert first["pareto_predicted"] is True and "trial_rows" not in first


def test_a_baseline_spends_the_search_budget_and_its_winner_is_within_the_limit(tmp_path):
    compare = resolve("demo", tuners="random", trial_epochs=1, **TINY)
    search = compare.search()
    pipeline = Pipeline(demo_source(), 32, 64, 100, 1000, "pad_crop", 0)
    budget = 7 * 64 + 10  # seven steps, and 10 images that pay for none
    lines = []
    result = methods.run_baseline(
        "random", compare, search, pipeline, budget, tmp_path / "random", lines.append
    )
    assert result.images == 7 * 64 and result.arch_images == 0
    assert sum(r.trained_images for r in result.trial_rows) == result.images
    assert result.trained_trials == 3  # 3 + 3 + 1 steps
    winner = load_net(result.arch)
    latency = net_latency(load_target("mobile"), winner).total
    assert latency == pytest.approx(result.predicted_latency)
    assert latency <= search.latency.target_latency
    assert methods.load_result(tmp_path / "random") == result  # result.json reads back whole
    assert any("budget 448/458 images" in line for line in lines)


def test_retraining_keeps_the_experiments_recipe_with_a_warmup_shorter_than_the_epochs():
    from tfnas.train import config as train_config

    preset = train_config.resolve("demo", arch="a.json")
    full = resolve("demo").train("a.json", seed_index=1)
    recipe = preset.recipe
    assert (full.recipe.epochs, full.recipe.warmup_epochs) == (recipe.epochs, recipe.warmup_epochs)
    assert full.recipe.learning_rate == recipe.learning_rate
    assert full.run.seed == preset.run.seed + 1
    for epochs in (2, 4):
        short = resolve("demo", train_epochs=epochs).train("a.json")
        assert short.recipe.epochs == epochs
        assert short.recipe.warmup_epochs == min(recipe.warmup_epochs, epochs - 1)


def test_the_search_takes_the_comparisons_schedule_and_arch_learning_rate():
    from tfnas.search import config as search_config

    preset = search_config.resolve("demo")
    assert resolve("demo").search() == preset  # nothing given: the experiment's
    search = resolve("demo", warmup_epochs=3, search_epochs=7, arch_learning_rate=0.02).search()
    assert (search.recipe.warmup_epochs, search.recipe.epochs) == (3, 7)
    assert search.arch_search.arch_learning_rate == 0.02


def test_bad_comparisons_are_named():
    with pytest.raises(ConfigError, match="tuners.*'random,grid'.*distinct names among"):
        resolve("demo", tuners="random,grid")
    with pytest.raises(ConfigError, match="train_epochs.*1.*an integer >= 2"):
        resolve("demo", train_epochs=1)
    with pytest.raises(ConfigError, match="hyperband_epochs"):
        resolve("demo", hyperband_epochs=1)
    result = run_module("tfnas.compare", "--tuners=grid")
    assert result.returncode == 2 and len(error_lines(result)) == 1, result.stderr[-2000:]
    assert "grid" in error_lines(result)[0]
    result = run_module("tfnas.compare", "--resume")
    assert error_lines(result) == [
        "error: --resume needs --output_dir: the folder of the comparison to continue"
    ]


@pytest.mark.slow  # about five minutes: a search, two tuners, three retrainings
def test_compare_end_to_end_and_resume(tmp_path):
    out, report_dir = tmp_path / "cmp", tmp_path / "report"
    flags = [f"--{k}={v}" for k, v in TINY.items()]
    flags += ["--trial_epochs=1", "--hyperband_epochs=2", "--tuners=random,hyperband"]
    result = run_module(
        "tfnas.compare", *flags, f"--output_dir={out}", f"--report_dir={report_dir}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((report_dir / report.JSON_FILE).read_text())
    rows = {r["method"]: r for r in record["rows"]}
    assert list(rows) == ["proxylessnas", "random", "hyperband"]
    budget = record["budget_images"]
    assert budget == rows["proxylessnas"]["images"]
    for method in ("random", "hyperband"):
        assert budget - 64 < rows[method]["images"] <= budget  # spent to the last step
    for r in rows.values():
        assert r["measured_ms"] > 0 and 0 <= r["test_accuracy"] <= 1
        assert (out / r["method"] / "model_float32.tflite").read_bytes()[4:8] == b"TFL3"
    assert "| method | images |" in (report_dir / report.MARKDOWN_FILE).read_text()
    again = run_module("tfnas.compare", f"--output_dir={out}", "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done before, reused") == 3


def test_a_result_file_of_another_version_says_how_to_rerun(tmp_path):
    method_dir = tmp_path / "random"
    method_dir.mkdir()
    # What a comparison wrote before result.json had a schema version.
    (method_dir / "result.json").write_text('{"format": "tfnas.compare_method", "method": "x"}')
    with pytest.raises(FieldError, match=r"schema_version: required field is missing; remove "):
        methods.load_result(method_dir)
