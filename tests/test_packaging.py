"""`pip install .`: the wheel holds tfnas, deploy and tflite_bench with their data and
the `tfnas` command, and the installed copy runs from outside the repository."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from commands import HANG_GUARD_S, run_module

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tfnas", "deploy", "tflite_bench")
PIP = (sys.executable, "-m", "pip", "--quiet")
MOBILENET = ("--arch=mobilenet_v2",)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the tree (a build in place would litter the repo)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the build uses the pinned setuptools of requirements.txt
    # instead of downloading one, so the test runs offline.
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=HANG_GUARD_S,
    )
    (built,) = out.glob("tfnas-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed into a folder of its own (dependencies: this environment's)."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [*PIP, "install", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        timeout=HANG_GUARD_S,
    )
    return site


def run_installed(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed `tfnas` script, run from `cwd` with only the install on the path."""
    env = os.environ | {"PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [str(site / "bin" / "tfnas"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=HANG_GUARD_S,
    )


def test_the_wheel_holds_every_module_the_data_files_and_the_tfnas_command(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        p.relative_to(REPO_ROOT).as_posix()
        for package in PACKAGES
        for p in (REPO_ROOT / package).rglob("*")
        if p.is_file() and p.suffix in (".py", ".json") and "__pycache__" not in p.parts
    }
    assert any(name.startswith("tfnas/latency/data/") for name in expected)
    assert expected - names == set()
    tops = {name.split("/")[0] for name in names}
    assert tops == {*PACKAGES, "tfnas-0.1.0.dist-info"}  # no tests/, benchmarks/
    entry_points = zipfile.ZipFile(wheel).read("tfnas-0.1.0.dist-info/entry_points.txt")
    assert "tfnas = tfnas.cli:main" in entry_points.decode()


def test_the_declared_dependencies_cover_the_pinned_set():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        dep.split(">")[0].split("<")[0].split("=")[0].lower()
        for dep in project["dependencies"] + project["optional-dependencies"]["dev"]
    }
    pinned = {
        line.split("==")[0].lower()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    # Not tfnas's dependencies: the wheel's build backend, and scikit-learn's own
    # dependencies (pinned so that the set installs the same everywhere).
    assert pinned - declared == {"setuptools", "joblib", "threadpoolctl"}
    assert project["scripts"] == {"tfnas": "tfnas.cli:main"}


def test_the_installed_command_reads_the_shipped_latency_model(installed, tmp_path):
    result = run_installed(
        installed, "latency", "predict", "--target=mobile", *MOBILENET, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    source = run_installed(installed, "net", "table", "mobilenet_v2", cwd=tmp_path)
    assert "| mobilenet_v2 | 224 |" in source.stdout
    direct = run_module("tfnas.latency", "predict", "--target=mobile", *MOBILENET)
    assert result.stdout == direct.stdout and "ms" in result.stdout


@pytest.mark.slow  # a short search: about a minute and a half on 2 cores
def test_the_installed_command_runs_a_demo_search_from_outside_the_repository(installed, tmp_path):
    out = tmp_path / "search"
    result = run_installed(
        installed,
        "search",
        "--experiment=demo",
        "--target=mobile",
        "--warmup_epochs=1",
        "--epochs=2",
        "--steps_per_epoch=5",
        "--arch_start_epoch=0",
        "--valid_size=100",
        "--valid_batch_size=50",
        "--verbose=0",
        f"--output_dir={out}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "search_summary.json").read_text())
    assert summary["target"] == "mobile" and summary["latency"] > 0
    assert (out / "arch.json").is_file()
    # The command ran the installed copy, not the repository's.
    probe = subprocess.run(
        [sys.executable, "-c", "import tfnas.cli; print(tfnas.cli.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(installed)},
    )
    assert Path(probe.stdout.strip()).is_relative_to(installed)


def test_every_module_the_makefile_runs_exists():
    # `make demo` once ran a module a package move had renamed; no other test runs the Makefile.
    import importlib.util
    import re

    makefile = (REPO_ROOT / "Makefile").read_text()
    modules = sorted(set(re.findall(r"-m ([a-z_][\w.]*)", makefile)) - {"pip", "venv", "pytest"})
    assert "tfnas.nets" in modules and "tfnas.search" in modules
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    assert missing == [], f"the Makefile runs modules that do not exist: {missing}"
