"""Measure latency-table entries on this machine with the TFLite interpreter.

Each key becomes a small TFLite model that holds the layer alone at its
input shape (converted as deployment converts: `from_keras_model`, float32,
batch norm folded), timed on one thread after a warmup. This is the host
half of `tflite_bench`; measuring over adb on a phone comes with the
tflite_bench issue.

    python -m tflite_bench.host --space=proxyless_imagenet --resolution=224 \
        --resolution=160 --out=tfnas/latency/data/cpu_table.json
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from tfnas.builder import apply, block_layers, conv_bn_relu6
from tfnas.latency.keys import EXPANDED_CONV, LayerKey, spec_parts
from tfnas.latency.table import LatencyTable, Measurement, TableMetadata, today
from tfnas.ops import MBConvOp
from tfnas.spec import BatchNormSpec, BlockSpec, SearchSpace

TOOL = "tflite_bench.host"


def key_model(key: LayerKey) -> keras.Model:
    """A Keras model computing the layer of `key` alone, at its input shape (batch 1).

    Raises:
        ValueError: For keys this builder cannot reproduce (Once-for-All
            blocks with squeeze-excite or h-swish, `AvgPool2D`, `Conv_2`).
    """
    batch_norm = BatchNormSpec()
    inputs = keras.Input(shape=key.input_shape, batch_size=1, name="input")
    if key.kind == EXPANDED_CONV:
        if key.is_once_for_all:
            raise ValueError(f"{key}: Once-for-All blocks (se/hs) are not built here")
        block = BlockSpec(
            MBConvOp(key.kernel, key.expand),
            key.input_shape[2],
            key.output_shape[2],
            key.stride,
            key.residual,
        )
        x = apply(block_layers(block, "block", batch_norm), inputs)
        outputs = keras.layers.Add()([inputs, x]) if key.residual else x
    elif key.kind in ("Conv", "Conv_1"):
        stride = key.input_shape[0] // key.output_shape[0]
        kernel = 3 if key.kind == "Conv" else 1
        layers = conv_bn_relu6(
            keras.layers, key.output_shape[2], kernel, stride, key.kind.lower(), batch_norm
        )
        outputs = apply(layers, inputs)
    elif key.kind == "Logits":
        x = keras.layers.GlobalAveragePooling2D()(inputs)
        outputs = keras.layers.Dense(key.output_shape[0])(x)
    else:
        raise ValueError(f"{key}: no model builder for {key.kind!r} keys")
    return keras.Model(inputs, outputs, name="layer")


def to_tflite(model: keras.Model) -> bytes:
    """Float32 TFLite flatbuffer, converted the way deployment converts."""
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def time_tflite(
    flatbuffer: bytes, threads: int = 1, warmup: int = 5, runs: int = 30
) -> Measurement:
    """Latency of one invocation, in ms, after `warmup` untimed runs."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    data = np.random.default_rng(0).standard_normal(detail["shape"]).astype(np.float32)
    interpreter.set_tensor(detail["index"], data)
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1e3)
    return Measurement(statistics.fmean(times), statistics.pstdev(times), runs)


def space_keys(space: SearchSpace) -> list[LayerKey]:
    """Every distinct key a search space can need: stem, each candidate of each block, head."""
    keys = [key for part in spec_parts(space) for key in part.keys if key is not None]
    return list(dict.fromkeys(keys))


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_keys(
    keys: Iterable[LayerKey],
    threads: int = 1,
    runs: int = 30,
    progress: Callable[[int, int, LayerKey, Measurement], None] | None = None,
) -> LatencyTable:
    """Measures every key on this machine and returns the table with its metadata."""
    import ai_edge_litert

    keys = list(keys)
    entries = {}
    for i, key in enumerate(keys):
        measurement = time_tflite(to_tflite(key_model(key)), threads=threads, runs=runs)
        entries[key] = measurement
        if progress:
            progress(i + 1, len(keys), key, measurement)
    metadata = TableMetadata(
        device=f"{cpu_name()} ({os.cpu_count()} cores)",
        runtime="tflite (ai-edge-litert interpreter, default XNNPACK delegate)",
        runtime_version=getattr(ai_edge_litert, "__version__", "unknown"),
        threads=threads,
        delegate="xnnpack",
        date=today(),
        tool=TOOL,
        source=f"measured on this machine, {runs} timed runs per entry, float32",
    )
    return LatencyTable(metadata, entries)


def merged_into(old: LatencyTable, new: LatencyTable) -> LatencyTable:
    """`old` with the entries of `new` added (replacing re-measured keys), same device only."""
    if old.metadata.device != new.metadata.device:
        raise ValueError(
            f"cannot merge measurements of {new.metadata.device!r} into a table of "
            f"{old.metadata.device!r}; write them to another file"
        )
    return LatencyTable(new.metadata, {**old.entries, **new.entries})


def print_progress(done: int, total: int, key: LayerKey, measurement: Measurement) -> None:
    """One line per measured key."""
    print(f"[{done}/{total}] {measurement.mean:8.3f} ms  {key}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> None:
    """Entry point: measures a space's keys at the given resolutions and writes the table."""
    from absl import flags, logging

    from tfnas.latency.table import load_table, save_table
    from tfnas.load import load_spec

    flag_values = flags.FLAGS
    del argv
    tf.get_logger().setLevel("ERROR")  # the converter logs every conversion
    logging.set_verbosity(logging.ERROR)
    keys = []
    for name in flag_values.space:
        for resolution in flag_values.resolution or [None]:
            space = load_spec(name, resolution)
            if not isinstance(space, SearchSpace):
                raise SystemExit(f"error: {name!r} is not a search space")
            keys += space_keys(space)
    keys = list(dict.fromkeys(keys))
    table = measure_keys(
        keys, threads=flag_values.threads, runs=flag_values.runs, progress=print_progress
    )
    if flag_values.update and os.path.exists(flag_values.out):
        table = merged_into(load_table(flag_values.out), table)
    save_table(table, flag_values.out)
    print(f"wrote {len(table)} entries to {flag_values.out}")


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_multi_string("space", ["proxyless_imagenet"], "Search space(s) to measure.")
    flags.DEFINE_multi_integer("resolution", None, "Input resolution(s); default each space's.")
    flags.DEFINE_integer("threads", 1, "Interpreter threads.")
    flags.DEFINE_integer("runs", 30, "Timed runs per entry.")
    flags.DEFINE_string("out", None, "Where to write the table (project JSON).")
    flags.DEFINE_bool("update", False, "Keep the entries of an existing --out table.")
    flags.mark_flag_as_required("out")
    app.run(main)
