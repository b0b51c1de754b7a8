"""Memory and time of supernet steps against training the largest single path.

Each case runs in its own process, so that peak memory is the case's own:

- `derived`: a training step (forward, backward, SGD) of the largest single
  path of the space (the largest-MAC candidate in every choice block) built
  as a plain Keras model: the yardstick.
- `weight_step_static`: the supernet with all its candidates' weights and
  momentum slots, training that same path fixed when the step is traced
  (no `tf.switch_case`, gradients for the path's weights only): what a
  weight step would need if holding the candidates were its only cost.
- `weight_step`: a supernet weight step running that same path.
- `arch_two`, `arch_full_v2`, `arch_full`: supernet arch steps in each
  gradient mode, with the same path active.

The paths are pinned by giving the architecture logits one dominant entry
per block, so every case computes the same network and the ratios compare
like with like.

Memory (`memory_mb`) is the peak of TensorFlow's tensor allocator during the
timed steps, from `tf.config.experimental.get_memory_info`: on a GPU the
GPU's; on the CPU the child processes run with `TF_CPU_ALLOCATOR_USE_BFC=true`,
which gives the CPU allocator the same statistics. It counts weights,
optimizer state, gradients and activations, and nothing of Python or of the
traced graphs. For reference the results also hold the process's resident set
(`rss_step_peak_mb`: highest RSS sampled during the timed steps,
`rss_process_peak_mb`: lifetime peak, both minus the RSS after importing
TensorFlow), which on the CPU is dominated by what tracing and graph
optimization leave allocated. `held_mb` is what the allocator holds between
steps (weights, optimizer slots, the input batch, and whatever the runtime
keeps from one step to the next); the peak minus it is what a step
allocates and frees.

Usage:
    python -m benchmarks.efficiency                       # all cases, writes results
    python -m benchmarks.efficiency --resolution=64 --batch_size=8 --steps=2
    python -m benchmarks.efficiency --resolution=64 --nograppler \
        --cases=derived,weight_step --output_dir=/tmp/efficiency

Writes `benchmarks/results/efficiency.json` and `efficiency.md`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from absl import app, flags

CASES = ("derived", "weight_step_static", "weight_step", "arch_two", "arch_full_v2", "arch_full")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    """Current resident set size of this process, in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _lifetime_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _RssSampler:
    """Samples the resident set size in a background thread; keeps the maximum."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, _rss_mb())
            time.sleep(self.interval_s)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


def largest_path(space: Any) -> list[int]:
    """The largest-MAC candidate of every choice block."""
    from tfnas.nets.costs import block_cost
    from tfnas.nets.spec import ChoiceBlock, conv_output_size

    size = conv_output_size(space.resolution, space.stem.stride)
    choices = []
    for block in space.blocks:
        if isinstance(block, ChoiceBlock):
            macs = [
                block_cost(block.select(j), size, size, "b").macs
                for j in range(len(block.candidates))
            ]
            choices.append(max(range(len(macs)), key=macs.__getitem__))
        size = conv_output_size(size, block.stride)
    return choices


def _count(variables: list[Any]) -> int:
    """The number of scalars in `variables`."""
    return sum(int(math.prod(v.shape)) for v in variables)


def _supernet_parameters(net: Any, path: list[int]) -> dict[str, int]:
    """Trainable parameters of the supernet: all, and those of candidates off `path`."""
    owners = net.candidate_weight_owners()
    off_path = [
        w
        for w in net.trainable_variables
        if w.path in owners and owners[w.path][1] != path[owners[w.path][0]]
    ]
    return {"trainable": _count(net.trainable_variables), "off_path": _count(off_path)}


def run_case(
    case: str, resolution: int, width: float, batch_size: int, steps: int, grappler: bool = True
) -> dict:
    """Measures one case in this process; returns its figures."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfnas.engine.losses import cross_entropy
    from tfnas.engine.runtime import configure_tensorflow
    from tfnas.nets.builder import build_net
    from tfnas.nets.registry import SPACES
    from tfnas.nets.sampling import NO_PATH, PathSample
    from tfnas.search.path_optimizer import SampledPathSGD
    from tfnas.search.steps import SearchSteps
    from tfnas.search.supernet import ArchParameters, Supernet

    baseline_mb = _rss_mb()  # TensorFlow imported, nothing built
    gpus = tf.config.list_physical_devices("GPU")
    space = SPACES.get(
        "proxyless_imagenet", width_mult=width, resolution=resolution, num_classes=1000
    )
    path = largest_path(space)
    rng = np.random.default_rng(0)
    images = tf.constant(
        rng.normal(size=(batch_size, resolution, resolution, 3)).astype(np.float32)
    )
    labels = tf.constant(rng.integers(0, 1000, batch_size).astype(np.int32))
    configure_tensorflow(seed=0, deterministic=False, grappler=grappler)

    check_path = None
    parameters: dict[str, int] = {}
    if case == "derived":
        model = build_net(space.select(path))
        optimizer = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)

        @tf.function
        def step() -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(cross_entropy(labels, model(images, training=True)))
            optimizer.apply(
                tape.gradient(loss, model.trainable_variables), model.trainable_variables
            )
            return loss

        parameters["trainable"] = _count(model.trainable_variables)
    elif case == "weight_step_static":
        net = Supernet(space)
        weights = net.trainable_variables
        optimizer = keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)
        optimizer.build(weights)  # slots for every candidate, as the search's optimizer has
        fixed = PathSample(active=list(path), inactive=[NO_PATH] * len(path))

        @tf.function
        def step() -> tf.Tensor:
            with tf.GradientTape() as tape:
                logits = net(images, sample=fixed, mode="one", bn_mode="update")
                loss = tf.reduce_mean(cross_entropy(labels, logits))
            pairs = [
                (g, w)
                for g, w in zip(tape.gradient(loss, weights), weights, strict=True)
                if g is not None  # the candidates off the path have none
            ]
            optimizer.apply([g for g, _ in pairs], [w for _, w in pairs])
            return loss

        parameters = _supernet_parameters(net, path)
    else:
        net = Supernet(space)
        arch = ArchParameters(net.num_candidates, seed=0)
        # Pin the path: one dominant logit per block (and a runner-up, for `two`).
        for alpha, choice in zip(arch.alphas, path, strict=True):
            logits = np.zeros(alpha.shape, np.float32)
            logits[(choice + 1) % len(logits)] = 50.0
            logits[choice] = 100.0
            alpha.assign(logits)
        mode = case.removeprefix("arch_") if case.startswith("arch_") else "full_v2"
        steps_obj = SearchSteps(
            net,
            arch,
            SampledPathSGD(
                0.05, momentum=0.9, nesterov=True, candidate_owners=net.candidate_weight_owners()
            ),
            keras.optimizers.Adam(1e-3, beta_1=0.0),
            mode=mode,
        )
        seed = tf.constant([0, 0])
        fn = steps_obj.weight_step if case == "weight_step" else steps_obj.arch_step

        def step() -> tf.Tensor:
            return fn(images, labels, seed)["loss"]

        def check_path() -> None:
            active = fn(images, labels, seed)["active"].numpy().tolist()
            if active != path:
                raise RuntimeError(f"{case}: ran path {active}, expected {path}")

        parameters = _supernet_parameters(net, path)

    built_mb = _rss_mb()
    start = time.perf_counter()
    float(step())  # traces, optimizes and runs once
    first_step_s = time.perf_counter() - start
    if check_path is not None:
        check_path()  # the pinned path ran (checked outside the timed steps)
    float(step())  # one more warm step before timing
    device = "GPU:0" if gpus else "CPU:0"
    try:
        tf.config.experimental.reset_memory_stats(device)
    except ValueError:  # CPU without TF_CPU_ALLOCATOR_USE_BFC=true: no statistics
        device = None
    held_mb = tf.config.experimental.get_memory_info(device)["current"] / 2**20 if device else None
    times = []
    with _RssSampler() as sampler:
        for _ in range(steps):
            start = time.perf_counter()
            float(step())
            times.append(time.perf_counter() - start)
    result = {
        "case": case,
        "step_s": statistics.median(times),
        "step_s_all": times,
        "first_step_s": first_step_s,
        "memory_device": device,
        "memory_mb": (
            tf.config.experimental.get_memory_info(device)["peak"] / 2**20 if device else None
        ),
        "held_mb": held_mb,
        "parameters": parameters,
        "rss_baseline_mb": baseline_mb,
        "rss_built_mb": built_mb - baseline_mb,
        "rss_step_peak_mb": sampler.peak_mb - baseline_mb,
        "rss_process_peak_mb": _lifetime_peak_mb() - baseline_mb,
    }
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import tensorflow as tf

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpu": [
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        ],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }


def _run_child(case: str, argv_flags: list[str]) -> dict:
    command = [sys.executable, "-m", "benchmarks.efficiency", f"--case={case}", *argv_flags]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        # Gives the CPU allocator the peak-memory statistics a GPU has.
        "TF_CPU_ALLOCATOR_USE_BFC": "true",
    }
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"case {case} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def weight_step_memory(derived: dict, static: dict, switched: dict) -> dict[str, float]:
    """Where the weight step's memory beyond the single path's goes, in MiB.

    - `candidates_expected`: the off-path candidates' float32 weights and
      momentum slots, from their parameter count: what holding a supernet
      must cost.
    - `candidates_measured`: the static-path step's peak minus the single
      path's: what holding them does cost.
    - `switch`: the weight step's peak minus the static-path step's (same
      weights, slots and path): what running the path through
      `tf.switch_case` costs, split into `switch_held` (kept between steps)
      and `switch_in_step` (allocated and freed within a step).
    - `off_path_gradients`: the size of one float32 gradient of every
      off-path candidate, the zeros `tf.switch_case` gives them.
    """
    off_path_mb = 4 * static["parameters"]["off_path"] / 2**20
    switch_held = switched["held_mb"] - static["held_mb"]
    switch = switched["memory_mb"] - static["memory_mb"]
    return {
        "candidates_expected": 2 * off_path_mb,
        "candidates_measured": static["memory_mb"] - derived["memory_mb"],
        "switch": switch,
        "switch_held": switch_held,
        "switch_in_step": switch - switch_held,
        "off_path_gradients": off_path_mb,
    }


def summarize(results: dict[str, dict], config: dict, machine_info: dict) -> dict:
    """The results file: absolute figures per case and ratios to `derived`."""
    base = results["derived"]
    memory_key = "memory_mb" if base["memory_mb"] is not None else "rss_step_peak_mb"

    def ratios(case: str) -> dict[str, float]:
        r = results[case]
        return {
            "memory_ratio": r[memory_key] / base[memory_key],
            "time_ratio": r["step_s"] / base["step_s"],
        }

    summary: dict[str, Any] = {
        "config": config,
        "machine": machine_info,
        "memory_measure": memory_key,
        "derived": base,
        "weight_step_static": {**results["weight_step_static"], **ratios("weight_step_static")},
        "weight_step": {**results["weight_step"], **ratios("weight_step")},
        "arch_step": {},
    }
    if memory_key == "memory_mb":
        summary["weight_step_memory"] = weight_step_memory(
            results["derived"], results["weight_step_static"], results["weight_step"]
        )
    for case in CASES:
        if case.startswith("arch_") and case in results:
            summary["arch_step"][case.removeprefix("arch_")] = {**results[case], **ratios(case)}
    return summary


def markdown(summary: dict) -> str:
    """The table the README quotes."""
    config, m = summary["config"], summary["machine"]
    key = summary["memory_measure"]
    rows = [
        ("train largest single path", summary["derived"], None),
        (
            "supernet, path fixed when traced",
            summary["weight_step_static"],
            summary["weight_step_static"],
        ),
        ("supernet weight step", summary["weight_step"], summary["weight_step"]),
    ]
    rows += [(f"supernet arch step, `{mode}`", r, r) for mode, r in summary["arch_step"].items()]
    lines = [
        f"ProxylessNAS ImageNet space, width {config['width']}, {config['resolution']} px, "
        f"batch {config['batch_size']}; median of {config['steps']} steps; "
        f"{'' if config.get('grappler', True) else 'Grappler off; '}"
        f"{m['cpu']}, {m['cores']} cores{', GPU ' + ', '.join(m['gpu']) if m['gpu'] else ''}; "
        f"TensorFlow {m['tensorflow']}.",
        "",
        "| step | time (s) | memory (MiB) | time ratio | memory ratio | held between steps "
        "(MiB) | first step (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r, ratio in rows:
        time_ratio = 1.0 if ratio is None else ratio["time_ratio"]
        memory_ratio = 1.0 if ratio is None else ratio["memory_ratio"]
        lines.append(
            f"| {name} | {r['step_s']:.2f} | {r[key]:.0f} | {time_ratio:.2f} | "
            f"{memory_ratio:.2f} | {_mib(r.get('held_mb'))} | {r['first_step_s']:.0f} |"
        )
    lines += [
        "",
        f"Memory is `{key}`: "
        + (
            f"peak of TensorFlow's {summary['derived']['memory_device']} allocator during the "
            "timed steps (weights, optimizer state, gradients, activations)."
            if key == "memory_mb"
            else "the highest resident set sampled during the timed steps, minus the "
            "process's size after importing TensorFlow."
        ),
        "The first step includes tracing and graph optimization.",
    ]
    if "weight_step_memory" in summary:
        m = summary["weight_step_memory"]
        lines += [
            "",
            "The weight step's memory beyond the single path's "
            f"({summary['weight_step'][key] - summary['derived'][key]:.0f} MiB): "
            f"holding the other candidates' weights and momentum, {m['candidates_measured']:.0f} "
            f"MiB (their parameters predict {m['candidates_expected']:.0f}); running the path "
            f"through `tf.switch_case`, {m['switch']:.0f} MiB, of which {m['switch_held']:.0f} "
            "is held between steps and the rest allocated within each step (one gradient of "
            f"every off-path candidate is {m['off_path_gradients']:.0f} MiB).",
        ]
    return "\n".join(lines) + "\n"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _define_flags() -> None:
    flags.DEFINE_enum("case", None, CASES, "Run one case in this process and print its figures.")
    flags.DEFINE_integer("resolution", 128, "Input resolution.")
    flags.DEFINE_float("width", 1.0, "Width multiplier of the space.")
    flags.DEFINE_integer("batch_size", 32, "Batch size.")
    flags.DEFINE_integer("steps", 5, "Timed steps per case (after two warm steps).")
    flags.DEFINE_bool("grappler", True, "Let Grappler optimize the steps' graphs.")
    flags.DEFINE_list(
        "cases", list(CASES), "The cases to run; derived and the two weight steps always run."
    )
    flags.DEFINE_string("output_dir", str(RESULTS_DIR), "Where the results files go.")


def main(argv: list[str]) -> None:
    """Runs one case (`--case`) or all of them, each in a child process."""
    del argv
    from tfnas.io.atomic import write_text_atomic

    f = flags.FLAGS
    if f.case:
        result = run_case(f.case, f.resolution, f.width, f.batch_size, f.steps, f.grappler)
        print("RESULT " + json.dumps(result))
        return
    config = {
        "space": "proxyless_imagenet",
        "resolution": f.resolution,
        "width": f.width,
        "batch_size": f.batch_size,
        "steps": f.steps,
        "grappler": f.grappler,
    }
    unknown = sorted(set(f.cases) - set(CASES))
    if unknown:
        raise app.UsageError(f"--cases: unknown {unknown}; expected some of {list(CASES)}")
    cases = [c for c in CASES if c in {*f.cases, "derived", "weight_step_static", "weight_step"}]
    child_flags = [
        f"--resolution={f.resolution}",
        f"--width={f.width}",
        f"--batch_size={f.batch_size}",
        f"--steps={f.steps}",
        f"--grappler={f.grappler}",
    ]
    results = {}
    for i, case in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {case} ...", flush=True)
        results[case] = _run_child(case, child_flags)
        r = results[case]
        memory = r["memory_mb"] if r["memory_mb"] is not None else r["rss_step_peak_mb"]
        print(
            f"    step {r['step_s']:.2f} s, memory {memory:.0f} MiB, "
            f"first step {r['first_step_s']:.0f} s",
            flush=True,
        )
    summary = summarize(results, config, machine())
    out = Path(f.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "efficiency.json", json.dumps(summary, indent=2) + "\n")
    table = markdown(summary)
    write_text_atomic(out / "efficiency.md", table)
    print(table)
    print(f"wrote {out / 'efficiency.json'} and {out / 'efficiency.md'}")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
