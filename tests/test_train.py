"""`python -m tfnas.train`: the recipe's schedule, a short run end to end, resume, errors."""

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from commands import error_lines, run_module
from interrupted_runs import kill_after_mid_epoch_checkpoint, resumed_from_step

from tfnas import records
from tfnas.nets.load import load_net
from tfnas.train.config import ConfigError, resolve
from tfnas.train.trainer import prepare_spec

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
TINY = (
    "--experiment=demo",
    "--arch=proxyless_mobile",
    "--resolution=32",
    "--epochs=2",
    "--warmup_epochs=1",
    "--steps_per_epoch=6",
    "--checkpoint_every=4",
    "--verbose=0",
)
# Long enough to be killed after a mid-epoch checkpoint: 3 epochs of 10 steps.
KILLABLE = (
    *TINY[:3],  # experiment, arch, resolution
    "--epochs=3",
    "--warmup_epochs=1",
    "--steps_per_epoch=10",
    "--checkpoint_every=3",
    "--verbose=0",
)


def train(*args: str) -> subprocess.CompletedProcess:
    return run_module("tfnas.train", *args)


def test_prepare_spec_sets_classes_dropout_and_resolution():
    spec = prepare_spec(load_net("proxyless_mobile"), num_classes=10, dropout=0.2, resolution=64)
    assert spec.classifier.num_classes == 10 and spec.classifier.dropout == 0.2
    assert spec.resolution == 64


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arch": ""}, "--arch='': expected a registered network"),
        ({"arch": "x", "dropout": 1.0}, r"--dropout=1.0: expected a number in \[0, 1\)"),
        ({"arch": "x", "warmup_epochs": 6}, "fewer than --epochs"),
    ],
)
def test_bad_config_values_name_the_flag(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve("demo", **overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    result = train(*TINY, f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_training_writes_weights_that_rebuild_the_model(trained):
    from tfnas.nets.builder import build_net

    summary = json.loads((trained / "train_summary.json").read_text())
    typed = records.load(records.TrainSummary, trained / "train_summary.json")
    assert records.to_json(typed) == summary  # every field of the record, nothing else
    assert summary["steps"] == 12 and summary["test_examples"] == 1000
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert [r["epoch"] for r in summary["history"]] == [1, 2]
    spec = load_net(str(trained / "arch.json"))
    assert spec.classifier.num_classes == 10 and spec.resolution == 32
    model = build_net(spec)
    model.load_weights(str(trained / "model.weights.h5"))
    assert np.isfinite(model(np.zeros((1, 32, 32, 3), np.float32)).numpy()).all()
    assert list((trained / "tensorboard").glob("events.out.tfevents.*"))


def test_the_reported_test_accuracy_is_what_the_written_network_scores(trained):
    # Rebuilt from arch.json and the weights, on the raw test images scaled outside the
    # pipeline: an independent evaluation (search_vs_random runs it on real data).
    from benchmarks.common import independent_accuracy
    from tfnas.datasets import demo

    summary = json.loads((trained / "train_summary.json").read_text())
    images, labels = demo.load("test", 32)
    rebuilt = independent_accuracy(
        str(trained / "arch.json"), str(trained / "model.weights.h5"), images, labels
    )
    # Inference mode does not depend on the batch; only a logit tie rounded
    # differently could move one image of the 1000.
    assert abs(rebuilt - summary["test_accuracy"]) <= 1 / 1000


def test_resume_after_the_end_changes_nothing_and_mismatches_are_refused(trained, tmp_path):
    before = (trained / "train_summary.json").read_text()
    again = train("--resume", f"--output_dir={trained}", "--verbose=0")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "(step 12)" in again.stdout
    after = json.loads((trained / "train_summary.json").read_text())
    assert after["test_accuracy"] == json.loads(before)["test_accuracy"]
    refused = train("--resume", f"--output_dir={trained}", "--epochs=5")
    assert refused.returncode == 2 and "epochs: 2 -> 5" in refused.stderr
    assert "it may change only learning_rate, warmup_epochs" in refused.stderr


def test_training_killed_mid_epoch_resumes_with_nothing_lost(tmp_path):
    settings = KILLABLE
    reference = train(*settings, f"--output_dir={tmp_path / 'whole'}")
    assert reference.returncode == 0, reference.stderr[-2000:]
    out = tmp_path / "killed"
    kill_after_mid_epoch_checkpoint(
        "tfnas.train",
        [*settings, f"--output_dir={out}"],
        ENV,
        out / "checkpoints" / "state.json",
        steps_per_epoch=10,
        after_step=10,
    )
    assert not (out / "train_summary.json").exists()
    resumed = train("--resume", f"--output_dir={out}", "--verbose=0")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed_from_step(resumed.stdout) % 10
    got = json.loads((out / "train_summary.json").read_text())
    want = json.loads((tmp_path / "whole" / "train_summary.json").read_text())
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["test_loss"] == pytest.approx(want["test_loss"], rel=1e-6)
    for a, b in zip(_weights(out), _weights(tmp_path / "whole"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_diverging_training_stops_with_one_error_line_and_keeps_the_last_good_checkpoint(
    tmp_path,
):
    out = tmp_path / "run"
    checkpoints = out / "checkpoints"
    step = kill_after_mid_epoch_checkpoint(
        "tfnas.train",
        [*KILLABLE, f"--output_dir={out}"],
        ENV,
        checkpoints / "state.json",
        steps_per_epoch=10,
        after_step=0,
    )
    good = {path.name: path.read_bytes() for path in checkpoints.iterdir()}
    diverged = train("--resume", f"--output_dir={out}", "--learning_rate=1e6", "--verbose=0")
    assert diverged.returncode == 2 and "Traceback" not in diverged.stderr
    errors = error_lines(diverged)
    assert len(errors) == 1, diverged.stderr[-2000:]
    assert re.match(
        r"error: training proxyless_mobile diverged: .*step \d+.*; lower --learning_rate "
        r"\(now 1e\+06\) or lengthen --warmup_epochs \(now 1\); the last good checkpoint "
        rf"\(step {step}, {re.escape(str(checkpoints))}\) is kept: rerun with --resume",
        errors[0],
    ), errors[0]
    # The checkpoint is the one from before, byte for byte, and no model was written.
    assert {path.name: path.read_bytes() for path in checkpoints.iterdir()} == good
    assert not (out / "model.weights.h5").exists() and not (out / "train_summary.json").exists()
    fixed = train("--resume", f"--output_dir={out}", "--learning_rate=0.05", "--verbose=0")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert f"(step {step})" in fixed.stdout
    assert "resuming with changed values: learning_rate: 1000000.0 -> 0.05" in fixed.stdout
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 30 and summary["loss_peak_ratio"] < 1.5


def _weights(run: Path) -> list[np.ndarray]:
    from tfnas.nets.builder import build_net

    model = build_net(load_net(str(run / "arch.json")))
    model.load_weights(str(run / "model.weights.h5"))
    return model.get_weights()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--arch=no_such_net",), "no_such_net"),
        (("--resume",), "has no config.json; it is not a train run to resume"),
        (("--arch=mobilenet_v2", "--dataset=no_such_set"), "unknown dataset 'no_such_set'"),
    ],
)
def test_bad_flags_give_one_error_line(args, message, tmp_path):
    result = train("--experiment=demo", *args, f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert re.search(message, errors[0]), errors[0]


def test_mobilenet_v3_trains_and_exports_as_the_baseline_a_user_would_deploy(tmp_path):
    from tolerances import RTOL_FLOAT32_NETWORK

    from tfnas.nets.registry import NETS

    out = tmp_path / "v3"
    args = [a for a in TINY if not a.startswith("--arch=")]
    result = train(*args, "--arch=mobilenet_v3_small", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["steps"] == 12
    written = load_net(str(out / "arch.json"))
    registered = prepare_spec(NETS.get("mobilenet_v3_small"), 10, written.classifier.dropout, 32)
    assert written == registered  # its h-swish head and squeeze-excite blocks kept
    exported = run_module(
        "deploy.export",
        f"--model_dir={out}",
        f"--output_dir={tmp_path / 'export'}",
        "--formats=float32",
        "--check_images=16",
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    report = json.loads((tmp_path / "export" / "export_report.json").read_text())
    # Other kernels, the same float32 network: within RTOL of the largest logit (tolerances.py).
    assert (
        report["formats"]["float32"]["max_abs_diff"]
        < RTOL_FLOAT32_NETWORK * report["max_abs_logit"]
    )
