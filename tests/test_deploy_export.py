"""`python -m deploy.export` on a `tfnas.train` output: files, report, errors."""

import json
from pathlib import Path

import pytest
from commands import error_lines
from commands import run_module as run
from tolerances import RTOL_FLOAT32_NETWORK


@pytest.fixture
def model_dir(trained_demo_model) -> Path:
    return trained_demo_model


def test_export_writes_the_selected_formats_and_a_report(model_dir, tmp_path):
    out = tmp_path / "export"
    result = run(
        "deploy.export",
        f"--model_dir={model_dir}",
        f"--output_dir={out}",
        "--formats=saved_model,float32,int8",
        "--check_images=64",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| float32 |" in result.stdout and "top-1 agreement" in result.stdout
    report = json.loads((out / "export_report.json").read_text())
    assert sorted(report["formats"]) == ["float32", "int8", "saved_model"]
    assert report["input"]["name"] == "images" and report["check_images"] == 64
    # Other kernels, the same float32 network: within RTOL of the largest logit (tolerances.py).
    bound = RTOL_FLOAT32_NETWORK * report["max_abs_logit"]
    assert report["formats"]["float32"]["max_abs_diff"] < bound
    assert report["formats"]["saved_model"]["max_abs_diff"] < bound
    assert report["formats"]["int8"]["top1_agreement"] >= 0.95
    assert (out / "saved_model" / "saved_model.pb").exists()
    assert (out / "model_int8.tflite").stat().st_size < (
        out / "model_float32.tflite"
    ).stat().st_size
    assert not list(out.glob(".*"))  # no temporary leftovers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--formats=float64",), "--formats=float64: expected some of saved_model"),
        (("--check_images=0",), "--check_images=0: expected >= 1"),
    ],
)
def test_bad_options_give_one_error_line(model_dir, tmp_path, args, message):
    result = run("deploy.export", f"--model_dir={model_dir}", f"--output_dir={tmp_path}", *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = error_lines(result)
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]


def test_a_folder_that_is_not_a_finished_training_is_refused(tmp_path):
    result = run("deploy.export", f"--model_dir={tmp_path}", f"--output_dir={tmp_path / 'x'}")
    assert result.returncode == 2
    assert "config.json is missing: --model_dir must be the output folder of a finished" in (
        result.stderr
    )


def test_an_arch_file_of_another_schema_version_is_named(model_dir, tmp_path):
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("config.json", "model.weights.h5"):
        (copy / name).write_bytes((model_dir / name).read_bytes())
    arch = json.loads((model_dir / "arch.json").read_text())
    (copy / "arch.json").write_text(json.dumps(arch | {"schema_version": 99}))
    result = run("deploy.export", f"--model_dir={copy}", f"--output_dir={tmp_path / 'x'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "schema_version" in result.stderr and "arch.json" in result.stderr
