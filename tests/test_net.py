"""The `python -m tfnas.nets` command, run as a user runs it."""

import json
import subprocess
from pathlib import Path

import pytest
from commands import run_module

import tfnas.nets.__main__ as net_cli
from tfnas.nets.costs import net_cost
from tfnas.nets.registry import NETS
from tfnas.nets.spec_json import load_spec

REPO_ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return run_module("tfnas.nets", *args)


def test_summary_json_of_a_registered_net():
    result = run("summary", "proxyless_mobile", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    cost = net_cost(NETS.get("proxyless_mobile"))
    assert (summary["params"], summary["macs"]) == (cost.params, cost.macs)
    assert [layer["op"] for layer in summary["layers"]][1:3] == ["3x3_MBConv1", "5x5_MBConv3"]


def test_summary_text_with_resolution():
    result = run("summary", "mobilenet_v2", "--resolution=160")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mobilenet_v2: 160x160x3 -> 1000 classes")
    assert "params 3,504,872" in result.stdout
    assert "block16     3x3_MBConv6" in result.stdout


def test_summary_of_a_space_and_of_a_net_config(tmp_path):
    space = json.loads(run("summary", "proxyless_imagenet", "--json").stdout)
    assert space["choice_blocks"] == 21 and space["architectures"] == 6**6 * 7**15
    path = tmp_path / "gpu.net.config.json"
    assert run("convert", "proxyless_gpu", f"--out={path}", "--format=net_config").returncode == 0
    summary = json.loads(run("summary", str(path), "--json").stdout)
    assert summary["macs"] == net_cost(NETS.get("proxyless_gpu")).macs


def test_convert_to_project_format(tmp_path):
    path = tmp_path / "sub" / "mobile.json"
    result = run("convert", "proxyless_mobile", f"--out={path}")
    assert result.returncode == 0 and result.stdout.strip() == f"wrote {path}"
    assert load_spec(path) == NETS.get("proxyless_mobile")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["summary", "resnet"], "error: 'resnet' is neither a registered name nor a file."),
        (["summary", "missing.json"], "error: 'missing.json' is neither a registered name"),
    ],
)
def test_unknown_input_gives_one_line_listing_names(args, expected):
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(expected)
    assert result.stderr.count("\n") == 1
    assert "proxyless_mobile" in result.stderr and "Traceback" not in result.stderr


def test_malformed_spec_gives_one_line(tmp_path):
    path = tmp_path / "net.json"
    assert run("convert", "demo", f"--out={path}").returncode == 0
    data = json.loads(path.read_text())
    data["blocks"][2]["candidates"][0] = "3x3_MBConv"
    path.write_text(json.dumps(data))
    result = run("summary", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {path}: blocks[2].candidates[0]: unknown op '3x3_MBConv': expected "
        "'KxK_MBConv<expand ratio>' (for example '5x5_MBConv3'), "
        "'KxK_MBConvE<middle channels>[_SE][_HS]' (MobileNetV3's, for example "
        "'5x5_MBConvE96_SE_HS') or 'Zero'\n"
    )


def test_bad_usage_prints_usage():
    result = run("frobnicate")
    assert result.returncode == 2 and "python -m tfnas.nets summary" in result.stderr


def test_table_builds_every_reference_net():
    rows = net_cli.table_rows(NETS.names(), build=True)
    assert [row["name"] for row in rows] == NETS.names()
    for row in rows:
        assert row["keras_params"] == row["params"]
    text = net_cli.table_text(rows)
    assert text.splitlines()[0].startswith("| network | resolution | params | MACs |")
    assert "| mobilenet_v2 | 224 | 3.50M | 300.8M | 17 (+0) | 3,504,872 |" in text


def test_importing_the_command_defines_no_flags():
    from absl import flags

    assert "resolution" not in flags.FLAGS and "build" not in flags.FLAGS
