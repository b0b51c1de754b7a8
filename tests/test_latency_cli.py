"""`python -m tfnas.latency fit|predict|import`, end to end in a subprocess."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from commands import run_module
from toy_search import synthetic_table

from tfnas.latency.features import FEATURES
from tfnas.latency.table import load_table, save_table
from tfnas.nets.costs import net_cost
from tfnas.nets.load import load_net

REPO_ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return run_module("tfnas.latency", *args)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    coefficients = np.linspace(0.1, 0.3, len(FEATURES))
    train = save_table(synthetic_table(coefficients, resolutions=(224, 160)), folder / "a.json")
    held = save_table(synthetic_table(coefficients, resolutions=(192,)), folder / "b.json")
    return train, held


def test_fit_json_reports_loo_and_eval(tables, tmp_path):
    train, held = tables
    result = run(
        "fit", f"--table={train}", f"--eval_table={held}", "--json", f"--out={tmp_path}/m.json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loo"]["median_ape"] < 1e-6 and report["eval"]["max_ape"] < 1e-6
    assert set(report["loo"]) >= {"median_ape", "max_ape"}
    predicted = run("predict", f"--target={tmp_path}/m.json", "--arch=proxyless_mobile", "--json")
    assert json.loads(predicted.stdout)["predicted"] > 0


def test_fit_text_without_eval(tables):
    result = run("fit", f"--table={tables[0]}")
    assert result.returncode == 0
    assert "leave-one-out: median APE" in result.stdout and "eval on" not in result.stdout


def test_predict_flops_is_the_mac_count():
    result = run("predict", "--target=flops", "--arch=proxyless_mobile", "--json")
    data = json.loads(result.stdout)
    assert data["latency"] == pytest.approx(net_cost(load_net("proxyless_mobile")).macs / 1e6)
    assert data["latency_ms"] is None and data["unit"] == "MMACs"


def test_predict_mobile_json_and_text():
    data = json.loads(run("predict", "--target=mobile", "--arch=proxyless_mobile", "--json").stdout)
    assert data["latency_ms"] > 0 and data["measured"] == 0 and data["predicted"] == 23
    text = run("predict", "--target=cpu", "--arch=mobilenet_v2", "--resolution=160", "--layers")
    assert "mobilenet_v2 at 160 px on target cpu:" in text.stdout
    assert "measured" in text.stdout and "predicted" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("predict", "--target=phone", "--arch=proxyless_mobile"), "unknown target 'phone'"),
        (("predict", "--target=mobile", "--arch=nonet"), "'nonet' is neither"),
        (("fit", "--table=/no/such.yaml"), "cannot read the file"),
    ],
)
def test_bad_input_is_one_error_line(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert message in result.stderr


def test_import_writes_a_project_table(tmp_path):
    source = tmp_path / "t.yaml"
    source.write_text("Conv-input:32x32x3-output:16x16x8:\n  count: 5\n  mean: 0.5\n  var: 0.01\n")
    result = run("import", f"--table={source}", f"--out={tmp_path}/t.json", "--device=Pixel 1")
    assert result.returncode == 0, result.stderr
    table = load_table(tmp_path / "t.json")
    assert table.metadata.device == "Pixel 1" and len(table) == 1


def test_importing_the_command_defines_no_flags():
    from absl import flags

    import tfnas.latency.__main__  # noqa: F401

    assert "eval_table" not in flags.FLAGS and "target" not in flags.FLAGS
