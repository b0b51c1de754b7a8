"""Quantization-aware training: the tf_keras twin, the int8 result, and tfmot kept out of
the exporting process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from commands import QUIET, REPO_ROOT, error_lines, run_module
from tolerances import assert_same_network_outputs

from deploy.export import ExportError, _qat_in_child_process, export
from deploy.qat import QatError, copy_weights_by_name, tf_keras_twin
from tflite_bench.key_models import kernel_input_types
from tfnas.nets.builder import build_net
from tfnas.nets.reference_nets import mobilenet_v2

TFMOT = "tensorflow_model_optimization"


def small_spec():
    return mobilenet_v2(num_classes=10, resolution=32, width_mult=0.35)


def test_the_tf_keras_twin_computes_what_the_keras_3_model_computes():
    spec = small_spec()
    model = build_net(spec)
    # Non-trivial batch-norm statistics, so that copying them matters.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.random.default_rng(0).normal(size=layer.moving_mean.shape))
    twin = tf_keras_twin(spec, model)
    images = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype(np.float32)
    want = model(images, training=False).numpy()
    got = twin(images, training=False).numpy()
    assert type(twin).__module__.startswith("tf_keras")
    assert_same_network_outputs(got, want)


def test_copying_weights_names_the_layer_that_does_not_fit():
    source = build_net(small_spec())
    other = build_net(mobilenet_v2(num_classes=7, resolution=32, width_mult=0.35))
    with pytest.raises(QatError, match="layer 'classifier': weights of shapes"):
        copy_weights_by_name(source, other)


def test_importing_the_deploy_modules_does_not_load_tfmot():
    code = (
        "import os, sys, deploy.qat, deploy.export, deploy.convert\n"
        f"assert {TFMOT!r} not in sys.modules\n"
        "assert 'TF_USE_LEGACY_KERAS' not in os.environ\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, env=QUIET
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_mobilenet_v3_is_refused_by_qat_with_the_conversion_that_works():
    # In a child: importing tfmot switches the whole process to tf_keras.
    code = (
        "from deploy.qat import QatError, quantize, tf_keras_twin\n"
        "from tfnas.nets.builder import build_net\n"
        "from tfnas.nets.registry import NETS\n"
        "spec = NETS.get('mobilenet_v3_small', resolution=32, num_classes=10)\n"
        "try:\n"
        "    quantize(tf_keras_twin(spec, build_net(spec)))\n"
        "except QatError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, env=QUIET
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (
        "mobilenet_v3_small: tensorflow-model-optimization cannot quantize layer "
        "stem_hswish_scale (MobileNetV3's h-swish and squeeze-excite); convert it after "
        "training instead: python -m deploy.export --formats=int8"
    )


def test_qat_int8_keeps_the_float_accuracy_and_leaves_this_process_on_keras_3(
    trained_demo_model, tmp_path
):
    assert "TF_USE_LEGACY_KERAS" not in os.environ  # holds before, must hold after
    # The whole demo test split (1000 images); export runs QAT in a child process.
    report = export(trained_demo_model, tmp_path, ["qat"], check_images=1000)
    qat = report["formats"]["qat"]
    assert report["check_images"] == 1000
    # Within 1 point of the float network (a gain is no failure).
    assert qat["accuracy_change"] >= -0.01, qat
    assert qat["top1_agreement"] >= 0.95
    assert kernel_input_types(Path(qat["path"]).read_bytes()) == {"int8"}
    child = json.loads((tmp_path / "qat_report.json").read_text())
    assert child["fine_tune"]["steps"] > 0 and child["check_images"] == 1000
    assert child["fine_tune"]["jit_compile"] is False  # recorded: Keras would guess per machine
    assert abs(child["float_accuracy"] - report["keras_accuracy"]) < 1e-9

    # This process never loaded tfmot and still trains with Keras 3.
    assert TFMOT not in sys.modules
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert tf.keras.Model is keras.Model
    model = build_net(small_spec())
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(np.zeros((4, 32, 32, 3)), np.zeros(4), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_a_failing_qat_child_surfaces_its_error(tmp_path):
    with pytest.raises(ExportError, match="QAT failed .*config.json is missing"):
        _qat_in_child_process(tmp_path, tmp_path / "out", 8)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--epochs=0",), "--epochs=0: expected an integer >= 1"),
        (("--learning_rate=-1",), "--learning_rate=-1.0: expected >= 0"),
    ],
)
def test_bad_options_give_one_error_line(tmp_path, args, message):
    result = run_module(
        "deploy.qat", f"--model_dir={tmp_path}", f"--output_dir={tmp_path / 'out'}", *args
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = error_lines(result)
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]


def test_a_diverging_fine_tuning_is_one_error_line_and_writes_no_model(
    trained_demo_model, tmp_path
):
    out = tmp_path / "out"
    result = run_module(
        "deploy.qat",
        f"--model_dir={trained_demo_model}",
        f"--output_dir={out}",
        "--learning_rate=1e6",
        "--steps_per_epoch=40",
        "--check_images=8",
        "--verbose=0",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr[-2000:]
    assert errors[0].startswith("error: QAT fine-tuning diverged: ")
    assert "lower --learning_rate (now 1e+06)" in errors[0]
    assert not out.exists() or not list(out.iterdir())
