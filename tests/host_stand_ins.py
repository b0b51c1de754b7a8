"""Stand-ins for the commands of the host benchmarks (`benchmarks.host_study` parts).

Each `*_result` writes what its command would write and returns its done
file's contents, made up but consistent: a table of the space's keys in
proportion to their work, a validation, trainings whose accuracy differs by
network and seed, exports.
"""

import json
from pathlib import Path

from tflite_bench.build_table import keys_of, load_space
from tfnas.latency.features import key_macs
from tfnas.latency.table import LatencyTable, Measurement, TableMetadata, save_table
from tfnas.nets import spec_json


def flag(args, name):
    """The value of `--name=` in `args`."""
    return next(a.partition("=")[2] for a in args if a.startswith(f"--{name}="))


def accuracy(arch, seed):
    """A made-up accuracy, different for every network and seed."""
    return 0.9 + (sum(map(ord, str(arch))) % 97) / 10_000 + seed / 1000


def space_of(args=()):
    """The `fashion_mnist` space at the width `args` name (1 by default), one channel."""
    width = float(flag(args, "width_mult")) if any("--width_mult=" in a for a in args) else 1.0
    return load_space("fashion_mnist", None, width, 1)


def build_table_result(args):
    entries = {k: Measurement(1e-6 * key_macs(k) + 0.01, 0, 1) for k in keys_of([space_of(args)])}
    save_table(LatencyTable(TableMetadata(device="host"), entries), flag(args, "out"))
    return {}


def validate_result(args):
    result = {"mape": 0.04, "architectures": [{"measured_ms": 1.0}]}
    path = Path(flag(args, "results"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def search_result(args, out, choices):
    """A search that derived `choices`: its arch file, and its summary."""
    out.mkdir(parents=True, exist_ok=True)
    space = space_of(args)
    spec_json.save_spec(space.select(choices), out / "arch.json")
    ops = [block.candidates[c].name for block, c in zip(space.choice_blocks, choices, strict=True)]
    return {"choices": choices, "ops": ops}


def train_result(args, out=None):
    """A training's summary; with `out`, it leaves its model there, as `tfnas.train` does."""
    from tfnas.train.trainer import WEIGHTS_FILE

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / WEIGHTS_FILE).write_bytes(b"weights")
    arch = flag(args, "arch")
    blocks = spec_json.load_spec(arch).blocks
    return {
        "test_accuracy": accuracy(arch, int(flag(args, "seed"))),
        "params": 1000,
        "macs": 10**6 * len(blocks) - 10**5 * sum(b.is_identity for b in blocks),
    }


def export_result(args, out):
    formats = flag(args, "formats").split(",")
    rows = {kind: {"path": str(out / f"model_{kind}.tflite")} for kind in formats}
    out.mkdir(parents=True, exist_ok=True)
    for row in rows.values():
        Path(row["path"]).write_bytes(b"exported")
    if "int8" in rows:
        rows["int8"]["accuracy"] = accuracy(flag(args, "model_dir"), 0) - 0.002
    return {"formats": rows}


def deploy(arch, out):
    """Stands in for the deployed file: the arch file's bytes stand for its graph."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(Path(arch).read_bytes())
    return out


def stand_in_parts(calls, answers):
    """A `run_part` stand-in: records `(module, args, out, options)` in `calls["parts"]`.

    It answers with `answers[module](args, out)`; the table, its validation,
    trainings and exports have default answers.
    """
    every = {
        "tflite_bench.build_table": lambda args, out: build_table_result(args),
        "tflite_bench.validate": lambda args, out: validate_result(args),
        "tfnas.train": train_result,
        "deploy.export": export_result,
        **answers,
    }

    def run_part(module, args, out, done_file, resume, **options):
        calls["parts"].append((module, args, out, options))
        return every[module](args, out) | {"part": {"commit": "c0ffee"}}

    return run_part
