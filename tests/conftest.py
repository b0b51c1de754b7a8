"""Shared fixtures: the read-only published reference data (`../shared/anchors`), and a
network trained on the demo data that the deploy tests export and quantize."""

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest
from commands import HANG_GUARD_S, run_module

REPO_ROOT = Path(__file__).resolve().parent.parent


def anchors_dir() -> Path | None:
    """The anchors folder: $TFNAS_ANCHORS, else ../shared/anchors next to the repo."""
    candidate = Path(os.environ.get("TFNAS_ANCHORS", REPO_ROOT.parent / "shared" / "anchors"))
    return candidate if candidate.is_dir() else None


@pytest.fixture
def anchors() -> Path:
    path = anchors_dir()
    if path is None:
        pytest.skip("published reference data absent (set TFNAS_ANCHORS or clone beside ../shared)")
    return path


@pytest.fixture
def anchor_net_configs(anchors: Path) -> dict[str, Path]:
    """The authors' released net.config files, by network name."""
    suffix = ".net.config.json"
    files = {p.name[: -len(suffix)]: p for p in (anchors / "archs").glob(f"*{suffix}")}
    if not files:
        pytest.skip(f"no *{suffix} files under {anchors / 'archs'}")
    return files


@pytest.fixture(scope="session")
def trained_demo_model(tmp_path_factory) -> Path:
    """A `tfnas.train` output: mobilenet_v2 at 32 px trained to ~99% on the demo data (~2 min).

    Converged, so that quantization is judged on a network whose accuracy no
    longer moves with a little more training. Trained once per test run: the
    pytest-xdist workers share it through their common temporary folder,
    and the first to get the lock trains it.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this run
    out = root / "trained_mobilenet_v2"
    with open(root / "trained_mobilenet_v2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "model.weights.h5").exists():
            shutil.rmtree(out, ignore_errors=True)  # a failed attempt's leftovers
            result = run_module(
                "tfnas.train",
                "--experiment=demo",
                "--arch=mobilenet_v2",
                "--epochs=5",
                "--verbose=0",
                f"--output_dir={out}",
                timeout=HANG_GUARD_S,
            )
            assert result.returncode == 0, result.stderr[-3000:]
    _require_converged(out)
    return out


# The demo data is easy: every network of the demo space, and mobilenet_v2 at 32 px,
# reaches 0.99 with the demo recipe (benchmarks/results/recipe_stability.md), while a
# diverged run ends near chance (0.10). 0.9 tells the two apart with room either side.
CONVERGED_ACCURACY = 0.9


def _require_converged(model_dir: Path) -> None:
    """Fails the fixture, naming the cause, when the shared model did not train."""
    summary = json.loads((model_dir / "train_summary.json").read_text())
    accuracy = summary["test_accuracy"]
    if accuracy < CONVERGED_ACCURACY:
        losses = ", ".join(f"{epoch['train_loss']:.2f}" for epoch in summary["history"])
        pytest.fail(
            f"the shared demo model ({model_dir}) did not converge: test accuracy "
            f"{accuracy:.3f}, expected >= {CONVERGED_ACCURACY} (per-epoch train loss: "
            f"{losses}); every test that uses it fails for this reason, not its own",
            pytrace=False,
        )
