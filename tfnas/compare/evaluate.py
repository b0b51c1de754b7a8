"""What the comparison reports of each winner: test accuracy after retraining, and latency.

Every winner is retrained from scratch with the same recipe and budget (the
training experiment of the comparison, one run per seed), and its test
accuracy is the mean over the seeds. Latency is predicted by the target's
latency model (and by the `cpu` model, which describes this kind of machine)
and measured end to end on a device with `tflite_bench`: float32 TFLite,
`passes` passes over all the winners, the median of the passes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tflite_bench.key_models import flatbuffer_for_timing, net_model
from tflite_bench.runners import DeviceError
from tfnas import records
from tfnas.compare.config import CompareConfig
from tfnas.engine.job import run_job
from tfnas.errors import DataError
from tfnas.io.atomic import write_bytes_atomic
from tfnas.latency.model import net_latency
from tfnas.latency.targets import load_target
from tfnas.nets.load import load_net
from tfnas.records import RetrainResult, TrainSummary
from tfnas.train.job import TRAIN

HOST_MODEL_TARGET = "cpu"
TFLITE_FILE = "model_float32.tflite"
RETRAIN_FILE = "retrain.json"


def retrain(
    compare: CompareConfig,
    arch: str,
    method_dir: Path,
    resume: bool,
    log: Callable[[str], None],
) -> RetrainResult:
    """Retrains `arch` once per seed; returns the test accuracies, their mean and the time.

    The result is kept in `method_dir/retrain.json`; a resumed comparison
    reuses it, or continues an unfinished retraining from its checkpoint.
    """
    done_file = method_dir / RETRAIN_FILE
    if resume and done_file.exists():
        return records.load(
            RetrainResult, done_file, fix=f"remove {method_dir} to rerun the method"
        )
    accuracies, seconds = [], 0.0
    summary: TrainSummary | None = None
    for seed_index in range(compare.retrain_seeds):
        config = compare.train(arch, seed_index)
        run_dir = method_dir / f"retrain-seed{config.run.seed}"
        began = time.monotonic()
        # Every winner starts from the same state: run_job seeds from the config.
        summary = run_job(
            TRAIN,
            config,
            run_dir,
            resume=resume,
            log=log,
            verbose=0,
            setup_tensorflow=False,
            announce=False,
        ).summary
        if summary.test_accuracy is None:
            raise DataError(
                f"--dataset={config.data.dataset}: no test split, and the comparison scores "
                "the retrained networks on it; use a dataset with a test split"
            )
        accuracies.append(summary.test_accuracy)
        seconds += time.monotonic() - began
    result = RetrainResult(
        test_accuracies=accuracies,
        test_accuracy=statistics.fmean(accuracies),
        retrain_seconds=seconds,
        params=summary.params,
        macs=summary.macs,
    )
    records.save(result, done_file)
    return result


def predicted_latencies(arch: str, target: str) -> dict[str, float]:
    """The network's latency on `target` and on the `cpu` model, in ms (or the target's unit)."""
    spec = load_net(arch)
    return {
        "predicted_latency": net_latency(load_target(target), spec).total,
        "predicted_cpu_latency": net_latency(load_target(HOST_MODEL_TARGET), spec).total,
    }


def measure_latencies(
    archs: dict[str, str], directory: Path, device: str, passes: int = 3
) -> tuple[dict[str, float], str]:
    """Median latency (ms) of each network's float32 TFLite file on `device`, and the device.

    Writes `directory/NAME/model_float32.tflite` for every network, then
    times them with `python -m tflite_bench.measure` in a fresh process: in
    this one, the threads of the training pipelines made the same file up
    to 40% slower. The passes go over all networks in turn.

    Raises:
        DeviceError: The measuring process failed (its error line is the message).
    """
    paths = {}
    for name, arch in archs.items():
        flatbuffer = flatbuffer_for_timing(net_model(load_net(arch)))
        paths[name] = write_bytes_atomic(directory / name / TFLITE_FILE, flatbuffer)
    return time_files(paths, device, passes)


def time_files(
    paths: dict[str, Path], device: str, passes: int = 3
) -> tuple[dict[str, float], str]:
    """Median latency (ms) of each TFLite file on `device`, and the device.

    Timed by `python -m tflite_bench.measure` in a fresh process (see
    `measure_latencies`), the passes over all files in turn.

    Raises:
        DeviceError: The measuring process failed (its error line is the message).
    """
    command = [sys.executable, "-m", "tflite_bench.measure", *map(str, paths.values())]
    command += [f"--device={device}", f"--passes={passes}", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        raise DeviceError(
            (errors[-1][len("error: ") :] if errors else done.stderr.strip()[-2000:])
            or f"tflite_bench.measure exited with {done.returncode}"
        )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_path = {result["model"]: result for result in results}
    medians = {name: by_path[str(path)]["median_ms"] for name, path in paths.items()}
    return medians, results[0]["device"]


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether point `a` (latency, accuracy) is as fast and as accurate as `b`, better in one."""
    return a[0] <= b[0] and a[1] >= b[1] and (a[0] < b[0] or a[1] > b[1])


def pareto_optimal(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Which (latency, accuracy) points are Pareto-optimal: no other point dominates them."""
    return [not any(dominates(other, point) for other in points) for point in points]
