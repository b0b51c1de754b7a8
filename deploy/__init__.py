"""Deployment: serving models, SavedModel export, TFLite conversion and quantization.

- `convert`: the pure conversions (serving model, SavedModel, TFLite, running TFLite);
- `common`: what export and QAT share (a finished train run, client images,
  calibration batches, `ExportError`);
- `qat`: quantization-aware fine-tuning to an int8 TFLite file (tfmot, tf_keras);
- `export` (`python -m deploy.export`): every format for a `tfnas.train` output,
  with a report of how each agrees with Keras; QAT runs in a child process.
"""

from tfnas.quiet import quiet_when_started_as_command

quiet_when_started_as_command()  # `python -m` commands start without TensorFlow's C++ noise
