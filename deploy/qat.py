"""`python -m deploy.qat`: quantization-aware training of a `tfnas.train` output, to int8 TFLite.

    python -m deploy.qat --model_dir=runs/demo/train --output_dir=runs/demo/export
        [--epochs=1] [--steps_per_epoch=0] [--learning_rate=0] [--check_images=256]

Writes into OUTPUT_DIR `model_qat_int8.tflite` (full-integer kernels, float
input and output, the same `serving_default` signature as `deploy.export`'s
files) and `qat_report.json` (its accuracy and top-1 agreement against the
float model on held-out images, and what the fine-tuning did).

tensorflow-model-optimization 0.8 quantizes tf_keras (Keras 2) models only,
and importing it sets `TF_USE_LEGACY_KERAS=1`, which turns `tf.keras` into
Keras 2 for the rest of the process. So this module imports tfmot only inside
the functions that need it, and `python -m deploy.export --formats=qat` runs
this command in a child process: the exporting process never loads tfmot.

The steps: the network is rebuilt from its spec with tf_keras layers (the same
builder, so the same layer names), the trained Keras 3 weights are copied by
layer name, tfmot inserts fake quantization (`quantize_model`), a short
fine-tuning with the training recipe's data and a small learning rate lets
the weights and the activation ranges adapt, and `from_keras_model` converts
the result. The serving normalization stays outside the quantized network
(tfmot has no quantized Normalization layer); the converter calibrates its
output range on training images.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deploy.common import (
    REPRESENTATIVE_IMAGES,
    batches_of,
    client_images,
    load_trained,
)
from deploy.convert import INPUT_NAME, run_tflite, serving_model, to_tflite
from tfnas.datasets.pipeline import channel_statistics, pipeline_for
from tfnas.engine.command import run_command
from tfnas.engine.divergence import LossGuard, keras_callback
from tfnas.engine.progress import is_terminal
from tfnas.engine.recipe import JIT_COMPILE, Recipe
from tfnas.engine.runtime import configure_run
from tfnas.errors import UserError
from tfnas.io.atomic import write_bytes_atomic, write_text_atomic
from tfnas.nets.builder import build_net

OUTPUT_FILE = "model_qat_int8.tflite"
REPORT_FILE = "qat_report.json"
# Fine-tuning starts from a trained network: a twentieth of the recipe's
# learning rate moves the weights enough to absorb the quantization error
# without undoing the training.
LEARNING_RATE_FRACTION = 0.05


class QatError(UserError, ValueError):
    """An option or a model that QAT cannot work with; the message says what to do."""


def copy_weights_by_name(source: Any, target: Any) -> int:
    """Copies every weighted layer of `target` from the layer of the same name in `source`.

    `source` and `target` may come from different Keras versions (a Keras 3
    model into its tf_keras twin): layers are matched by name and weights by
    order, which `tfnas.nets.builder` keeps the same in both.

    Returns:
        The number of layers copied.

    Raises:
        QatError: A layer of `target` is missing in `source`, or its weights
            differ in number or shape.
    """
    by_name = {layer.name: layer for layer in source.layers}
    copied = 0
    for layer in target.layers:
        if not layer.weights:
            continue
        if layer.name not in by_name:
            raise QatError(f"layer {layer.name!r} has no counterpart in {source.name!r}")
        weights = by_name[layer.name].get_weights()
        shapes = [tuple(w.shape) for w in weights]
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if shapes != expected:
            raise QatError(f"layer {layer.name!r}: weights of shapes {shapes}, expected {expected}")
        layer.set_weights(weights)
        copied += 1
    return copied


def tf_keras_twin(spec: Any, model: Any) -> Any:
    """`model` (Keras 3, built from `spec`) rebuilt with tf_keras layers, its weights copied."""
    import tf_keras

    twin = build_net(spec, keras_module=tf_keras)
    copy_weights_by_name(model, twin)
    return twin


def quantize(model: Any) -> Any:
    """`model` (tf_keras) with tfmot's default 8-bit fake quantization (imports tfmot).

    Raises:
        QatError: A layer tfmot cannot quantize (MobileNetV3's h-swish and
            squeeze-excite gates are built with Rescaling, which tfmot 0.8
            does not support).
    """
    import tensorflow_model_optimization as tfmot

    try:
        return tfmot.quantization.keras.quantize_model(model)
    except RuntimeError as error:
        if "is not supported" not in str(error):
            raise
        layer = str(error).split(":", 1)[0].removeprefix("Layer ").strip()
        raise QatError(
            f"{model.name}: tensorflow-model-optimization cannot quantize layer {layer} "
            "(MobileNetV3's h-swish and squeeze-excite); convert it after training instead: "
            "python -m deploy.export --formats=int8"
        ) from None


def qat_recipe(trained: Any, epochs: int, steps_per_epoch: int, learning_rate: float) -> Any:
    """The fine-tuning recipe: the training's, shorter, from a small rate, without warmup.

    `learning_rate` 0 is `LEARNING_RATE_FRACTION` of the training's. No weight
    decay: a few hundred steps from trained weights should absorb the
    quantization error, not move the weights towards zero.
    """
    recipe = dataclasses.replace(
        trained,
        epochs=epochs,
        warmup_epochs=0,
        learning_rate=learning_rate or LEARNING_RATE_FRACTION * trained.learning_rate,
        weight_decay=0.0,
    )
    return Recipe(recipe, steps_per_epoch, "linear_warmup_cosine")


def fine_tune(model: Any, pipeline: Any, recipe: Any, verbose: int = 1) -> dict[str, Any]:
    """Trains the quantized `model` on `pipeline`'s training split; returns what it did.

    The optimizer, the cosine decay to 0 and the loss are `recipe`'s
    (`qat_recipe`); the data order and augmentation are the pipeline's (a
    function of the seed and the epoch).

    Raises:
        DivergenceError: The fine-tuning loss diverged (`tfnas.engine.divergence`).
    """
    import tf_keras

    epochs, steps_per_epoch = recipe.total_epochs, recipe.steps_per_epoch
    total = recipe.total_steps
    learning_rate = recipe.config.learning_rate
    label_smoothing = recipe.config.label_smoothing
    recipe.compile(model, tf_keras)
    guard = LossGuard(
        "QAT fine-tuning",
        f"lower --learning_rate (now {learning_rate:g})",
        model.output_shape[-1],
        resumable=False,
    )
    callbacks = [keras_callback(guard, tf_keras), recipe.schedule_callback(tf_keras)]
    began = time.monotonic()
    history: list[dict[str, float]] = []
    for epoch in range(epochs):
        batches = pipeline.train_epoch(epoch).take(steps_per_epoch)
        result = model.fit(
            batches, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose, callbacks=callbacks
        )
        history.append({name: float(values[-1]) for name, values in result.history.items()})
    return {
        "epochs": epochs,
        "steps": total,
        "learning_rate": learning_rate,
        "label_smoothing": label_smoothing,
        "jit_compile": JIT_COMPILE,
        "seconds": time.monotonic() - began,
        "history": history,
    }


def qat_serving_model(quantized: Any) -> Any:
    """The quantized tf_keras network behind the serving normalization, as `serving_model`."""
    import tf_keras

    shape = quantized.input_shape[1:]
    images = tf_keras.Input(shape, dtype="float32", name=INPUT_NAME)
    mean, stddev = channel_statistics(shape[-1])
    normalized = tf_keras.layers.Normalization(
        mean=list(mean), variance=[s * s for s in stddev], name="normalize"
    )(images)
    logits = tf_keras.layers.Activation("linear", name="logits")(quantized(normalized))
    probabilities = tf_keras.layers.Softmax(name="probabilities")(logits)
    return tf_keras.Model(
        images, {"logits": logits, "probabilities": probabilities}, name="serving"
    )


def run_qat(
    model_dir: str | Path,
    output_dir: str | Path,
    epochs: int,
    steps_per_epoch: int,
    learning_rate: float,
    check_images: int,
    verbose: int = 1,
) -> dict[str, Any]:
    """Fine-tunes, converts and checks; writes the flatbuffer and the report; returns the report.

    Args:
        model_dir: Output folder of `python -m tfnas.train`.
        output_dir: Where `model_qat_int8.tflite` and `qat_report.json` go.
        epochs: Fine-tuning epochs.
        steps_per_epoch: Steps per epoch; 0 is one pass over the training split.
        learning_rate: Initial learning rate; 0 is `LEARNING_RATE_FRACTION`
            of the training recipe's.
        check_images: Held-out images to compare with the float model on.
        verbose: Keras progress output of the fine-tuning (0, 1 or 2).
    """
    if epochs < 1:
        raise QatError(f"--epochs={epochs}: expected an integer >= 1")
    if steps_per_epoch < 0:
        raise QatError(f"--steps_per_epoch={steps_per_epoch}: expected >= 0 (0: a whole pass)")
    if learning_rate < 0:
        raise QatError(f"--learning_rate={learning_rate}: expected >= 0 (0: from the recipe)")
    if check_images < 1:
        raise QatError(f"--check_images={check_images}: expected >= 1")
    config, spec, model = load_trained(model_dir)
    configure_run(config.run)
    images, labels = client_images(config, check_images, "test")
    reference = serving_model(model)(images, training=False)["logits"].numpy()
    # Fine-tuning draws from the whole training split: nothing is monitored on a held-out part.
    pipeline = pipeline_for(config.data, config.run.seed, valid_size=0)
    recipe = qat_recipe(config.recipe, epochs, pipeline.steps_for(steps_per_epoch), learning_rate)
    quantized = quantize(tf_keras_twin(spec, model))
    tuning = fine_tune(quantized, pipeline, recipe, verbose)
    calibration, _ = client_images(config, REPRESENTATIVE_IMAGES, "train")
    flatbuffer = to_tflite(qat_serving_model(quantized), "int8", batches_of(calibration))
    target = write_bytes_atomic(Path(output_dir) / OUTPUT_FILE, flatbuffer)
    got = run_tflite(flatbuffer, images)["logits"]
    float_correct = reference.argmax(1) == labels
    qat_correct = got.argmax(1) == labels
    report = {
        "model_dir": str(model_dir),
        "network": spec.name,
        "path": str(target),
        "bytes": len(flatbuffer),
        "check_images": len(images),
        "float_accuracy": float(float_correct.mean()),
        "accuracy": float(qat_correct.mean()),
        "accuracy_change": float(qat_correct.mean() - float_correct.mean()),
        "top1_agreement": float((got.argmax(1) == reference.argmax(1)).mean()),
        "max_abs_diff": float(np.abs(got - reference).max()),
        "fine_tune": tuning,
    }
    write_text_atomic(Path(output_dir) / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


def main(argv: Sequence[str]) -> int:
    """Runs QAT; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS

    def body() -> int:
        if not flag_values.model_dir or not flag_values.output_dir:
            raise QatError("--model_dir and --output_dir are required")
        # Keras' bar redraws itself into a log file as frames: a line per epoch there.
        verbose = 2 if flag_values.verbose == 1 and not is_terminal() else flag_values.verbose
        report = run_qat(
            flag_values.model_dir,
            flag_values.output_dir,
            flag_values.epochs,
            flag_values.steps_per_epoch,
            flag_values.learning_rate,
            flag_values.check_images,
            verbose,
        )
        print(
            f"QAT int8: accuracy {report['accuracy']:.3f} vs float "
            f"{report['float_accuracy']:.3f} ({100 * report['accuracy_change']:+.1f} pt), "
            f"top-1 agreement {100 * report['top1_agreement']:.1f}% on "
            f"{report['check_images']} held-out images, {report['bytes'] / 1024:.0f} KiB; "
            f"wrote {report['path']}"
        )
        return 0

    return run_command(list(argv), body)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("model_dir", None, "Output folder of python -m tfnas.train.")
    flags.DEFINE_string("output_dir", None, "Where model_qat_int8.tflite and the report go.")
    flags.DEFINE_integer("epochs", 1, "Fine-tuning epochs.")
    flags.DEFINE_integer("steps_per_epoch", 0, "Steps per epoch; 0: one pass over train.")
    flags.DEFINE_float(
        "learning_rate", 0.0, f"Initial learning rate; 0: {LEARNING_RATE_FRACTION} x the recipe's."
    )
    flags.DEFINE_integer("check_images", 256, "Held-out images to compare with float on.")
    flags.DEFINE_integer(
        "verbose",
        1,
        "Fine-tuning progress: 0 none, 1 a bar (off a terminal: 2), 2 a line per epoch.",
    )
    app.run(lambda argv: sys.exit(main(argv)))
