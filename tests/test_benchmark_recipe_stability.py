"""`benchmarks.recipe_stability`: the networks it trains, the onset it reads, its report."""

import itertools
import math

import numpy as np
import pytest

from benchmarks import recipe_stability as rs
from tfnas.nets.costs import net_cost
from tfnas.nets.spaces import demo


def test_the_extreme_networks_are_the_cheapest_and_dearest_of_the_space():
    space = demo()
    nets = rs.extreme_networks(space)
    smallest, largest = (net_cost(nets[name]).macs for name in ("demo_smallest", "demo_largest"))
    rng = np.random.default_rng(0)
    for _ in range(30):
        choices = [int(rng.integers(len(b.candidates))) for b in space.choice_blocks]
        assert smallest <= net_cost(space.select(choices)).macs <= largest
    assert {b.op.name for b in nets["demo_largest"].blocks[1:]} == {"7x7_MBConv6"}
    assert rs.with_head(nets["demo_largest"], 1280).feature_mix_channels == 1280


def test_the_onset_is_where_the_smoothed_loss_passes_the_guard_factor():
    rates = [0.01 * (i + 1) for i in range(30)]
    calm = [2.6] * 30
    assert rs.onset_learning_rate(calm, rates, math.log(10)) is None
    spiky = [2.6] * 10 + [8.0] + [2.6] * 19  # one spike: the 5-step mean stays under 3.9
    assert rs.onset_learning_rate(spiky, rates, math.log(10)) is None
    diverging = [2.6] * 10 + [5.0] * 20
    # The 5-step mean first passes 1.5 x 2.6 = 3.9 with the third 5.0 ((2 x 2.6 + 3 x 5) / 5
    # = 4.04): step 13, learning rate 0.13.
    assert rs.onset_learning_rate(diverging, rates, math.log(10)) == pytest.approx(0.13)
    assert rs.onset_learning_rate([2.6] * 5 + [math.nan] * 5, rates, 2.3) == pytest.approx(0.06)


def test_the_plan_covers_every_network_seed_and_onednn_setting():
    plan = rs.planned_runs(list(rs.PARTS), seeds=5, edge_seeds=3, reference_seeds=2, onednn=[0, 1])
    by_part = {part: [r for r in plan if r.part == part] for part in rs.PARTS}
    assert len(by_part["train"]) == 3 * 5 * 2 and len(by_part["search"]) == 5 * 2
    assert len(by_part["ablation"]) == len(rs.ABLATIONS) * 3 * 2
    assert len(by_part["reference"]) == len(rs.REFERENCE_NETS) * 2 * 2
    assert len({r.key for r in plan if r.part == "ablation"}) == len(by_part["ablation"])
    trained = {(r.net, r.seed, r.onednn) for r in by_part["train"]}
    assert trained == set(
        itertools.product(["mobilenet_v2", "demo_smallest", "demo_largest"], range(5), [0, 1])
    )


def _row(part, net, seed, onednn, accuracy=None, error=None, variant=""):
    row = {"part": part, "net": net, "seed": seed, "onednn": onednn, "variant": variant}
    row["label"] = f"{net} {variant}" if variant else net
    if error:
        return {**row, "converged": False, "error": error}
    return {**row, "test_accuracy": accuracy, "loss_peak_ratio": 1.02, "converged": accuracy >= 0.9}


def test_the_report_lists_every_run_and_names_those_that_did_not_converge():
    runs = [
        {"part": "edge", "net": "mobilenet_v2", "seed": 0, "onednn": 0, "onset_lr": 0.09},
        {"part": "edge", "net": "mobilenet_v2", "seed": 0, "onednn": 1, "onset_lr": None},
        _row("ablation", "mobilenet_v2", 0, 1, error="error: diverged", variant="lr0.1"),
        _row("train", "demo_largest", 0, 0, 0.994),
        _row("train", "demo_largest", 0, 1, 0.998),
        _row("search", "demo_search", 0, 1, 0.42),
    ]
    report = {
        "machine": "a CPU",
        "recipe": "the recipe",
        "features": {"mobilenet_v2": 1280},
        "runs": runs,
    }
    text = rs.markdown(report)
    assert "| mobilenet_v2 | 1280 | 0.090 | 1 of 2 |" in text
    assert "| mobilenet_v2 lr0.1 | 1 | 0 | - | 0: diverged |" in text
    assert "| demo_largest | 2 | 2 | 0.996 (0.994-0.998) | 0: 0.994 / 0.998 | 1.02 |" in text
    assert text.rstrip().endswith(
        "With the current recipes, 1 of 3 runs did not converge: search demo_search seed 0 oneDNN 1"
    )


def test_a_run_cut_short_starts_again_and_a_finished_one_is_reused(tmp_path, monkeypatch):
    run = rs.Run(part="train", net="demo_smallest", seed=0, onednn=1)
    out = tmp_path / "train" / run.key
    (out / "run").mkdir(parents=True)
    (out / "run" / "config.json").write_text("{}")  # what an interrupted run leaves behind
    commands = []

    def fake_train(command, **kwargs):
        commands.append(command)
        assert not (out / "run").exists(), "the cut-short run was not cleared"
        (out / "run").mkdir()
        summary = '{"test_accuracy": 0.97, "loss_peak_ratio": 1.01}'
        (out / "run" / "train_summary.json").write_text(summary)
        return rs.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(rs.subprocess, "run", fake_train)
    first = rs.run_once(run, tmp_path / "arch.json", tmp_path)
    assert first["test_accuracy"] == 0.97 and first["converged"]
    assert rs.run_once(run, tmp_path / "arch.json", tmp_path) == first
    assert len(commands) == 1


def test_a_search_is_judged_by_its_network_retrained(tmp_path, monkeypatch):
    run = rs.Run(part="search", net="demo_search", seed=1, onednn=0)
    out = tmp_path / "search" / run.key
    out.mkdir(parents=True)
    searched = {**rs.dataclasses.asdict(run), "label": "demo_search", "minutes": 2.0}
    searched |= {"test_accuracy": 0.86, "loss_peak_ratio": 0.97, "converged": False}
    (out / "result.json").write_text(rs.json.dumps(searched))  # from before the retrain

    def fake_train(command, **kwargs):
        assert f"--arch={out / 'run' / 'arch.json'}" in command and "--seed=1" in command
        retrain = out / "retrain"
        retrain.mkdir()
        summary = '{"test_accuracy": 0.995, "loss_peak_ratio": 1.01}'
        (retrain / "train_summary.json").write_text(summary)
        return rs.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(rs.subprocess, "run", fake_train)
    result = rs.run_once(run, None, tmp_path)
    assert result["supernet_test_accuracy"] == 0.86 and result["test_accuracy"] == 0.995
    assert result["converged"] and result["loss_peak_ratio"] == 1.01
    assert rs.json.loads((out / "result.json").read_text()) == result
    text = rs.markdown({"machine": "m", "recipe": "r", "features": {}, "runs": [result]})
    assert "| demo_search | 1 | 1 | 0.995 | 1: 0.995 | 1.01 |" in text
    assert "(before retraining) scored 0.860 on the test split" in text
