"""`python -m tfnas.search` end to end on the demo data: outputs, kill and resume, bad flags."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from commands import HANG_GUARD_S
from interrupted_runs import kill_after_mid_epoch_checkpoint, resumed_from_step
from PIL import Image

from tfnas import records
from tfnas.latency.model import net_latency
from tfnas.latency.targets import load_target
from tfnas.nets.load import load_net

REPO_ROOT = Path(__file__).resolve().parent.parent
STEPS_PER_EPOCH = 20
# Three short epochs (one warmup) with arch steps from the first search epoch.
TINY = (
    "--experiment=demo",
    "--warmup_epochs=1",
    "--epochs=2",
    f"--steps_per_epoch={STEPS_PER_EPOCH}",
    "--arch_start_epoch=0",
    "--checkpoint_every=3",
    "--valid_size=200",
    "--valid_batch_size=50",
    "--verbose=0",
)
ENV = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tfnas.search", *args]


def search(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), capture_output=True, text=True, cwd=REPO_ROOT, env=ENV, timeout=HANG_GUARD_S
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A TINY search run as a user runs it with `> search.log`: default verbosity, to a file."""
    out = tmp_path_factory.mktemp("search") / "run"
    log = out.parent / "search.log"
    with open(log, "w") as stdout:
        result = subprocess.run(
            command(*(arg for arg in TINY if arg != "--verbose=0"), f"--output_dir={out}"),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=ENV,
            timeout=HANG_GUARD_S,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "outputs in" in log.read_text()
    return out


def test_a_search_logged_to_a_file_writes_plain_lines_not_bar_frames(finished_run):
    log = (finished_run.parent / "search.log").read_text()
    assert not any(char in log for char in "\r\b\x1b"), "progress-bar frames in the log"
    # The demo logs every 10 steps; steps 20, 40, 60 end an epoch, whose own line follows.
    steps = re.findall(r"\(run step (\d+)\)", log)
    assert steps == ["10", "30", "50"], log
    assert log.count("\n") < 20 and len(log) < 4000, f"{len(log)} bytes:\n{log}"


def test_demo_search_writes_every_output(finished_run):
    out = finished_run
    summary = json.loads((out / "search_summary.json").read_text())
    # It reads back strictly as the typed record (every field, nothing else).
    assert records.to_json(records.load(records.SearchSummary, out / "search_summary.json")) == (
        summary
    )
    derived = load_net(str(out / "arch.json"))
    assert load_net(str(out / "net.config")).blocks == derived.blocks
    # The summary's latency is the target's prediction for the written network.
    assert summary["latency"] == pytest.approx(net_latency(load_target("mobile"), derived).total)
    assert summary["weight_steps"] == 3 * STEPS_PER_EPOCH
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert len(summary["probabilities"]) == 6
    assert all(sum(p) == pytest.approx(1.0, abs=1e-5) for p in summary["probabilities"])
    config = json.loads((out / "config.json").read_text())
    assert config["experiment"] == "demo" and config["recipe"]["epochs"] == 2
    log = (out / "arch_log.txt").read_text()
    assert log.count("epoch ") == 3 and "choice05:" in log
    for picture in ("alpha_history.png", "arch.png"):
        with Image.open(out / picture) as image:
            assert image.size[0] > 300
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert len(list((out / "checkpoints").glob("step-*.index"))) == 1  # older ones removed


def test_a_run_killed_mid_epoch_resumes_to_the_same_architecture(finished_run, tmp_path):
    out = tmp_path / "run"
    kill_after_mid_epoch_checkpoint(
        "tfnas.search",
        [*TINY, f"--output_dir={out}"],
        ENV,
        out / "checkpoints" / "state.json",
        STEPS_PER_EPOCH,
        after_step=2 * STEPS_PER_EPOCH,
    )
    assert not (out / "search_summary.json").exists()  # it really died before the end
    resumed = search("--resume", f"--output_dir={out}", "--verbose=0")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed_from_step(resumed.stdout) % STEPS_PER_EPOCH, "resumed at an epoch's end"
    assert (out / "arch.json").read_text() == (finished_run / "arch.json").read_text()
    got = json.loads((out / "search_summary.json").read_text())
    want = json.loads((finished_run / "search_summary.json").read_text())
    for a, b in zip(got["alphas"], want["alphas"], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert got["test_accuracy"] == pytest.approx(want["test_accuracy"])


def test_a_diverging_search_stops_with_one_error_line_and_keeps_the_last_good_checkpoint(
    tmp_path,
):
    out = tmp_path / "run"
    checkpoints = out / "checkpoints"
    step = kill_after_mid_epoch_checkpoint(
        "tfnas.search",
        [*TINY, f"--output_dir={out}"],
        ENV,
        checkpoints / "state.json",
        STEPS_PER_EPOCH,
        after_step=0,
    )
    good = {path.name: path.read_bytes() for path in checkpoints.iterdir()}
    diverged = search("--resume", f"--output_dir={out}", "--learning_rate=1e6", "--verbose=0")
    assert diverged.returncode == 2 and "Traceback" not in diverged.stderr
    errors = [line for line in diverged.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, diverged.stderr[-2000:]
    assert re.match(
        r"error: the search's weight training diverged: .*step \d+.*; lower --learning_rate "
        rf"\(now 1e\+06\); the last good checkpoint \(step {step}, "
        rf"{re.escape(str(checkpoints))}\) is kept: rerun with --resume",
        errors[0],
    ), errors[0]
    assert {path.name: path.read_bytes() for path in checkpoints.iterdir()} == good
    assert not (out / "arch.json").exists() and not (out / "search_summary.json").exists()
    fixed = search("--resume", f"--output_dir={out}", "--learning_rate=0.05", "--verbose=0")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert f"(step {step})" in fixed.stdout and "learning_rate: 1000000.0 -> 0.05" in fixed.stdout
    assert json.loads((out / "search_summary.json").read_text())["loss_peak_ratio"] < 1.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target=gpu",), "unknown target 'gpu': expected one of mobile, cpu, flops"),
        (("--target_latency=-3",), "--target_latency=-3.0: expected a latency > 0"),
        (("--target_latency=fast",), "--target_latency='fast': expected a number"),
        (("--dataset=no_such_set",), "unknown dataset 'no_such_set'"),
        (("--dataset=cifar10", "--data_dir=/nonexistent"), "not prepared .*tfds build cifar10"),
        (("--target_latency=0.9", "--loss=mul_log"), "mul_log divides by log\\(target\\)"),
        (("--resume",), "has no config.json; it is not a search run to resume"),
        (("--loss_params=lam",), "'lam' is not NAME=NUMBER"),
    ],
)
def test_bad_flags_give_one_error_line(args, message, tmp_path):
    result = search(*args, f"--output_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert re.search(message, errors[0]), errors[0]
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_resume_refuses_flags_that_change_the_run(finished_run):
    result = search("--resume", f"--output_dir={finished_run}", "--seed=5")
    assert result.returncode == 2
    assert "disagree with it: seed: 0 -> 5" in result.stderr
    assert "may change only learning_rate, arch_learning_rate" in result.stderr


@pytest.mark.slow  # two minutes: two replicas compile the steps twice as large
def test_mirrored_search_on_two_logical_cpus(tmp_path):
    out = tmp_path / "run"
    result = search(
        "--experiment=demo",
        "--warmup_epochs=1",
        "--epochs=1",
        "--steps_per_epoch=4",
        "--arch_start_epoch=0",
        "--arch_update_every=1",
        "--valid_size=100",
        "--valid_batch_size=50",
        "--verbose=0",
        "--strategy=mirrored",
        "--cpu_devices=2",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replica(s)" in result.stdout
    summary = json.loads((out / "search_summary.json").read_text())
    assert summary["weight_steps"] == 8
    # Arch steps ran and moved alpha away from its near-zero start.
    assert max(abs(a) for block in summary["alphas"] for a in block) > 0.05
