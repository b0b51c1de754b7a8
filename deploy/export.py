"""`python -m deploy.export`: SavedModel and TFLite files from a `tfnas.train` output.

    python -m deploy.export --model_dir=runs/demo/train --output_dir=runs/demo/export
        [--formats=saved_model,float32,float16,dynamic,int8,qat] [--check_images=256]

Writes into OUTPUT_DIR, as selected:

- `saved_model/`: signature `serving_default`, input `images` (float32, shape
  (N, R, R, C), RGB (C = 3) or grayscale (C = 1) values in 0..255; the model
  normalizes them), outputs
  `logits` and `probabilities` (float32, (N, classes));
- `model_float32.tflite`, `model_float16.tflite`, `model_dynamic.tflite`,
  `model_int8.tflite` (full-integer kernels calibrated on training images,
  float input and output, the same signature);
- `model_qat_int8.tflite` (`qat`): the same int8 format after
  quantization-aware fine-tuning, by `python -m deploy.qat` in a child
  process, so that tensorflow-model-optimization never loads here (it would
  switch `tf.keras` to Keras 2);
- `export_report.json`, also printed as a table: file sizes and agreement with
  the Keras model on held-out images (max abs difference of the logits;
  top-1 agreement and accuracy change).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deploy.common import (
    REPRESENTATIVE_IMAGES,
    ExportError,
    batches_of,
    client_images,
    load_trained,
)
from deploy.convert import export_saved_model, run_tflite, serving_model, to_tflite
from deploy.qat import REPORT_FILE as QAT_REPORT
from tfnas.engine.command import run_command
from tfnas.io.atomic import write_bytes_atomic, write_text_atomic

__all__ = ["FORMATS", "REPORT_FILE", "ExportError", "export", "report_table"]

FORMATS = ("saved_model", "float32", "float16", "dynamic", "int8", "qat")
REPORT_FILE = "export_report.json"


def _agreement(reference: np.ndarray, got: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    top1 = reference.argmax(1)
    return {
        "max_abs_diff": float(np.abs(got - reference).max()),
        "top1_agreement": float((got.argmax(1) == top1).mean()),
        "accuracy": float((got.argmax(1) == labels).mean()),
        "accuracy_change": float((got.argmax(1) == labels).mean() - (top1 == labels).mean()),
    }


def export(
    model_dir: str | Path, output_dir: str | Path, formats: Sequence[str], check_images: int
) -> dict[str, Any]:
    """Writes the selected formats and the report; returns the report."""
    import tensorflow as tf

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ExportError(f"--formats={','.join(formats)}: expected some of {', '.join(FORMATS)}")
    config, spec, model = load_trained(model_dir)
    serving = serving_model(model)
    images, labels = client_images(config, check_images, "test")
    reference = serving(images, training=False)["logits"].numpy()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "model_dir": str(model_dir),
        "network": spec.name,
        "input": {
            "name": "images",
            "dtype": "float32",
            "shape": [None, *serving.input_shape[1:]],
            "values": f"{'grayscale' if serving.input_shape[-1] == 1 else 'RGB'} 0..255; "
            "normalized inside the model",
        },
        "check_images": len(images),
        "keras_accuracy": float((reference.argmax(1) == labels).mean()),
        # Float differences scale with the logits: reordered float32 sums.
        "max_abs_logit": float(np.abs(reference).max()),
        "formats": {},
    }
    for fmt in formats:
        began = time.monotonic()
        if fmt == "qat":
            row = _qat_in_child_process(Path(model_dir), output_dir, len(images))
            report["formats"][fmt] = {"seconds": time.monotonic() - began, **row}
            continue
        if fmt == "saved_model":
            target = output_dir / "saved_model"
            staging = Path(tempfile.mkdtemp(prefix=".saved_model.", dir=output_dir))
            try:
                export_saved_model(serving, staging / "saved_model")
                shutil.rmtree(target, ignore_errors=True)
                (staging / "saved_model").rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            signature = tf.saved_model.load(str(target)).signatures["serving_default"]
            got = signature(images=tf.constant(images))["logits"].numpy()
            size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        else:
            representative = None
            if fmt == "int8":
                calibration, _ = client_images(config, REPRESENTATIVE_IMAGES, "train")
                representative = batches_of(calibration)
            flatbuffer = to_tflite(serving, fmt, representative)
            target = write_bytes_atomic(output_dir / f"model_{fmt}.tflite", flatbuffer)
            got = run_tflite(flatbuffer, images)["logits"]
            size = len(flatbuffer)
        report["formats"][fmt] = {
            "path": str(target),
            "bytes": size,
            "seconds": time.monotonic() - began,
            **_agreement(reference, got, labels),
        }
    write_text_atomic(output_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


def _qat_in_child_process(model_dir: Path, output_dir: Path, check_images: int) -> dict[str, Any]:
    """Runs `python -m deploy.qat` (its progress shows) and returns its report's figures."""
    import subprocess

    command = [
        sys.executable,
        "-m",
        "deploy.qat",
        f"--model_dir={model_dir}",
        f"--output_dir={output_dir}",
        f"--check_images={check_images}",
        "--verbose=2",
    ]
    # The child imports deploy and tfnas from the same tree as this process.
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = os.environ | {"PYTHONPATH": path}
    result = subprocess.run(command, stderr=subprocess.PIPE, text=True, env=env)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        detail = errors[-1][len("error: ") :] if errors else result.stderr.strip()[-2000:]
        raise ExportError(f"QAT failed ({' '.join(command[1:])}): {detail}")
    qat = json.loads((output_dir / QAT_REPORT).read_text())
    keys = ("path", "bytes", "max_abs_diff", "top1_agreement", "accuracy", "accuracy_change")
    return {key: qat[key] for key in keys}


def report_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    lines = [
        f"{report['network']}: {report['check_images']} held-out images, Keras top-1 "
        f"{report['keras_accuracy']:.3f}, largest |logit| {report['max_abs_logit']:.3g}",
        "",
        "| format | size | max abs diff (logits) | top-1 agreement | accuracy change |",
        "|---|---|---|---|---|",
    ]
    for fmt, row in report["formats"].items():
        lines.append(
            f"| {fmt} | {row['bytes'] / 1024:.0f} KiB | {row['max_abs_diff']:.2e} | "
            f"{100 * row['top1_agreement']:.1f}% | {100 * row['accuracy_change']:+.1f} pt |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Runs the export; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS

    def body() -> int:
        if not flag_values.model_dir or not flag_values.output_dir:
            raise ExportError("--model_dir and --output_dir are required")
        if flag_values.check_images < 1:
            raise ExportError(f"--check_images={flag_values.check_images}: expected >= 1")
        report = export(
            flag_values.model_dir,
            flag_values.output_dir,
            flag_values.formats,
            flag_values.check_images,
        )
        print(report_table(report))
        print(f"\nwrote {flag_values.output_dir}/ ({REPORT_FILE})")
        return 0

    return run_command(argv, body)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("model_dir", None, "Output folder of python -m tfnas.train.")
    flags.DEFINE_string("output_dir", None, "Where the exported files go.")
    flags.DEFINE_list("formats", list(FORMATS), f"Some of {', '.join(FORMATS)}.")
    flags.DEFINE_integer("check_images", 256, "Held-out images to compare formats on.")
    app.run(lambda argv: sys.exit(main(argv)))
