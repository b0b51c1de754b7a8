"""Do the demo recipes train on any machine? Divergence onset, seeds, oneDNN on and off.

    python -m benchmarks.recipe_stability [--parts=edge,ablation,train,search,reference]
        [--seeds=5] [--edge_seeds=3] [--reference_seeds=2] [--onednn=0,1]
        [--runs_dir=runs/recipe_stability] [--output_dir=benchmarks/results]

TensorFlow's CPU kernels round differently from machine to machine (oneDNN
picks kernels by instruction set) and from GPUs; `TF_ENABLE_ONEDNN_OPTS=0`
and `=1` switch between two kernel families, the nearest thing to another
machine that one machine offers. Every run here is a separate process with
that variable set, as a user would run it. The parts:

- `edge`: where does training start to diverge? A learning-rate range test
  (Smith, 2017): the demo recipe's SGD with the peak learning rate ramped
  linearly from 0 to 0.4 over three epochs; the onset is the learning rate at
  the first step whose 5-step mean loss exceeds 1.5x max(first loss, ln 10),
  the divergence guard's factor. Networks: mobilenet_v2 at 32 px, the
  smallest and largest network of the demo space, and each with the other's
  head (128 or 1280 features before the classifier), which isolates the cause;
  and the two released networks with the widest heads (1728 and 1792).
- `ablation`: mobilenet_v2 with the earlier recipe (peak learning rate 0.1),
  alone, with two warmup epochs instead of one, and without label smoothing.
- `train`: `python -m tfnas.train --experiment=demo` for mobilenet_v2 and the
  smallest and largest demo networks, `--seeds` seeds each.
- `search`: `python -m tfnas.search --experiment=demo`, `--seeds` seeds.
- `reference`: the released ProxylessNAS networks at 32 px with the demo
  training recipe, `--reference_seeds` seeds each.

Each run's test accuracy and `loss_peak_ratio` (the highest 20-step mean loss
over max(start, chance): 1 is the start, 1.5 stops a run as diverged) are
reported per run in `recipe_stability.md` and `.json`; the README quotes the
Markdown. Finished runs are kept under `--runs_dir` and reused, so an
interrupted benchmark continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tfnas.io.atomic import write_text_atomic
from tfnas.nets import spec_json
from tfnas.nets.costs import net_cost
from tfnas.nets.load import load_net
from tfnas.nets.registry import SPACES
from tfnas.nets.spec import NetSpec, SearchSpace

REPO_ROOT = Path(__file__).resolve().parent.parent
PARTS = ("edge", "ablation", "train", "search", "reference")
# The `ablation` part: the recipe that diverged (peak learning rate 0.1), and
# what else might have been to blame, changed one at a time.
ABLATIONS = {
    "lr0.1": ["--learning_rate=0.1"],
    "lr0.1_warmup2": ["--learning_rate=0.1", "--warmup_epochs=2"],
    "lr0.1_no_smoothing": ["--learning_rate=0.1", "--label_smoothing=0"],
}
# The demo data is easy: a converged run reaches 0.99, a diverged one ends near 0.1.
CONVERGED_ACCURACY = 0.9
REFERENCE_NETS = ("proxyless_mobile", "proxyless_cpu", "proxyless_gpu", "proxyless_mobile_14")
# The range test: the peak learning rate ramps from 0 to EDGE_MAX_LR over EDGE_EPOCHS.
EDGE_MAX_LR = 0.4
EDGE_EPOCHS = 3
EDGE_SMOOTHING = 5  # steps averaged before comparing with the threshold
EDGE_FACTOR = 1.5  # the divergence guard's factor (tfnas.engine.divergence.FACTOR)


def extreme_networks(space: SearchSpace) -> dict[str, NetSpec]:
    """The smallest and the largest network of `space` by multiply-adds.

    A block's MACs depend only on its own op (its channels and stride are
    fixed), so picking the cheapest (dearest) op of every block gives the
    smallest (largest) network.
    """
    blocks = space.choice_blocks
    base = [0] * len(blocks)
    costs = []
    for index, block in enumerate(blocks):
        per_op = []
        for op in range(len(block.candidates)):
            choices = list(base)
            choices[index] = op
            per_op.append(net_cost(space.select(choices)).macs)
        costs.append(per_op)
    smallest = [per_op.index(min(per_op)) for per_op in costs]
    largest = [per_op.index(max(per_op)) for per_op in costs]
    return {
        "demo_smallest": dataclasses.replace(space.select(smallest), name="demo_smallest"),
        "demo_largest": dataclasses.replace(space.select(largest), name="demo_largest"),
    }


def with_head(spec: NetSpec, features: int) -> NetSpec:
    """`spec` with `features` channels in its 1x1 feature mix (the classifier's input)."""
    return dataclasses.replace(
        spec, name=f"{spec.name}_head{features}", feature_mix_channels=features
    )


def benchmark_networks(runs_dir: Path) -> dict[str, Path]:
    """Writes every network the benchmark trains as an arch.json; returns their paths."""
    demo = extreme_networks(SPACES.get("demo"))
    mobilenet = load_net("mobilenet_v2").with_resolution(32)
    nets = {
        "mobilenet_v2": mobilenet,
        **demo,
        "mobilenet_v2_head128": with_head(mobilenet, 128),
        "demo_largest_head1280": with_head(demo["demo_largest"], 1280),
        **{name: load_net(name).with_resolution(32) for name in REFERENCE_NETS},
    }
    paths = {}
    for name, spec in nets.items():
        path = runs_dir / "archs" / f"{name}.json"
        if not path.exists():
            spec_json.save_spec(spec, path)
        paths[name] = path
    return paths


def onset_learning_rate(losses: list[float], rates: list[float], chance: float) -> float | None:
    """The learning rate at the first step whose smoothed loss is over the divergence factor.

    Args:
        losses: The loss of every step of the range test.
        rates: The learning rate of every step.
        chance: The chance-level loss, ln(classes).

    Returns:
        The onset learning rate, or None when the loss never got there.
    """
    threshold = EDGE_FACTOR * max(losses[0], chance)
    for end in range(EDGE_SMOOTHING, len(losses) + 1):
        window = losses[end - EDGE_SMOOTHING : end]
        mean = sum(window) / len(window)
        if not math.isfinite(mean) or mean > threshold:
            return rates[end - 1]
    return None


def range_test(arch: str, seed: int) -> dict[str, Any]:
    """The learning-rate range test of the demo training recipe for `arch` (this process)."""
    import tempfile

    from tfnas.engine.job import start_job
    from tfnas.train.config import resolve
    from tfnas.train.job import TRAIN

    config = resolve("demo", arch=arch, seed=seed)
    with tempfile.TemporaryDirectory() as scratch:
        trainer, pipeline, _ = start_job(TRAIN, config, scratch, verbose=0)
        total = EDGE_EPOCHS * trainer.steps_per_epoch
        losses, rates = [], []
        for epoch in range(EDGE_EPOCHS):
            for images, labels in pipeline.train_epoch(epoch).take(trainer.steps_per_epoch):
                rate = EDGE_MAX_LR * (len(losses) + 1) / total
                trainer.optimizer.learning_rate.assign(rate)
                loss, _ = trainer.train_step(images, labels)
                losses.append(float(loss))
                rates.append(rate)
    chance = math.log(pipeline.source.num_classes)
    return {
        "onset_lr": onset_learning_rate(losses, rates, chance),
        "first_loss": losses[0],
        "losses": [round(loss, 4) for loss in losses],
    }


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of the benchmark: a part, a network, a seed, a oneDNN setting, a variant."""

    part: str
    net: str
    seed: int
    onednn: int
    variant: str = ""  # a key of ABLATIONS

    @property
    def key(self) -> str:
        """The run's folder name."""
        variant = f"-{self.variant}" if self.variant else ""
        return f"{self.net}{variant}-seed{self.seed}-onednn{self.onednn}"

    @property
    def label(self) -> str:
        """The network, and the variant if any, as the tables name it."""
        return f"{self.net} {self.variant}" if self.variant else self.net


def run_once(run: Run, arch: Path | None, runs_dir: Path) -> dict[str, Any]:
    """Runs (or reuses) one run in its own process; returns its figures."""
    out = runs_dir / run.part / run.key
    result_file = out / "result.json"
    if result_file.exists():
        result = json.loads(result_file.read_text())
    else:
        result = _run_fresh(run, arch, out)
        write_text_atomic(result_file, json.dumps(result, indent=2) + "\n")
    if run.part == "search" and "error" not in result and "supernet_test_accuracy" not in result:
        result = _retrain_derived(run, out, result)
        write_text_atomic(result_file, json.dumps(result, indent=2) + "\n")
    return result


def _child(run: Run, command: list[str]) -> tuple[int, str | None]:
    """Runs `python COMMAND` for `run`; returns its exit status and its last `error:` line.

    Raises:
        RuntimeError: The child failed without an `error:` line: a crash, not a
            finding, so the benchmark stops.
    """
    env = os.environ | {"TF_ENABLE_ONEDNN_OPTS": str(run.onednn)}
    process = subprocess.run(
        [sys.executable, *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    errors = [line for line in process.stderr.splitlines() if line.startswith("error:")]
    if process.returncode != 0 and not errors:
        raise RuntimeError(f"{run} {command}: exit {process.returncode}\n{process.stderr[-3000:]}")
    return process.returncode, errors[-1] if errors else None


def _train_command(arch: Path | None, seed: int, output_dir: Path, *extra: str) -> list[str]:
    """`tfnas.train` with the demo recipe, quietly."""
    demo = ["-m", "tfnas.train", "--experiment=demo", f"--arch={arch}", f"--seed={seed}"]
    return [*demo, "--verbose=0", f"--output_dir={output_dir}", *extra]


def _retrain_derived(run: Run, out: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Trains the searched network from scratch with the demo recipe, as a user would.

    The search's own test accuracy is the derived network's with the weights it had
    in the supernet, where each candidate trained only on the steps that sampled it;
    it measures the supernet, not whether the search found a network that trains.
    The retrained accuracy is the one held to the convergence bar.
    """
    retrain = out / "retrain"
    if retrain.exists():  # a retrain cut short
        shutil.rmtree(retrain)
    began = time.monotonic()
    status, error = _child(run, _train_command(out / "run" / "arch.json", run.seed, retrain))
    minutes = result["minutes"] + (time.monotonic() - began) / 60
    result = result | {"supernet_test_accuracy": result["test_accuracy"], "minutes": minutes}
    if status != 0:
        del result["test_accuracy"]
        return result | {"converged": False, "error": error}
    summary = json.loads((retrain / "train_summary.json").read_text())
    return result | {
        "test_accuracy": summary["test_accuracy"],
        "loss_peak_ratio": max(result["loss_peak_ratio"], summary["loss_peak_ratio"]),
        "converged": summary["test_accuracy"] >= CONVERGED_ACCURACY,
    }


def _run_fresh(run: Run, arch: Path | None, out: Path) -> dict[str, Any]:
    if out.exists():  # a run cut short (no result): start it again from nothing
        shutil.rmtree(out)
    seed = f"--seed={run.seed}"
    if run.part == "edge":
        command = ["-m", "benchmarks.recipe_stability", f"--edge_arch={arch}", seed]
        command.append(f"--edge_out={out / 'edge.json'}")
    elif run.part == "search":
        command = ["-m", "tfnas.search", "--experiment=demo", seed, "--verbose=0"]
        command.append(f"--output_dir={out / 'run'}")
    else:
        command = _train_command(arch, run.seed, out / "run", *ABLATIONS.get(run.variant, []))
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    status, error = _child(run, command)
    minutes = (time.monotonic() - began) / 60
    result: dict[str, Any] = {**dataclasses.asdict(run), "label": run.label, "minutes": minutes}
    if status != 0:
        result.update(converged=False, error=error)
    elif run.part == "edge":
        result.update(json.loads((out / "edge.json").read_text()))
    else:
        name = "search_summary.json" if run.part == "search" else "train_summary.json"
        summary = json.loads((out / "run" / name).read_text())
        result.update(
            test_accuracy=summary["test_accuracy"],
            loss_peak_ratio=summary["loss_peak_ratio"],
            converged=summary["test_accuracy"] >= CONVERGED_ACCURACY,
        )
    return result


def planned_runs(
    parts: list[str], seeds: int, edge_seeds: int, reference_seeds: int, onednn: list[int]
) -> list[Run]:
    """Every run of the chosen parts, in the order they run."""
    nets = {
        "edge": (
            [
                "mobilenet_v2",
                "demo_smallest",
                "demo_largest",
                "mobilenet_v2_head128",
                "demo_largest_head1280",
                "proxyless_gpu",
                "proxyless_mobile_14",
            ],
            edge_seeds,
        ),
        "ablation": (["mobilenet_v2"], edge_seeds),
        "train": (["mobilenet_v2", "demo_smallest", "demo_largest"], seeds),
        "search": (["demo_search"], seeds),
        "reference": (list(REFERENCE_NETS), reference_seeds),
    }
    return [
        Run(part, net, seed, setting, variant)
        for part in parts
        for net in nets[part][0]
        for variant in (ABLATIONS if part == "ablation" else [""])
        for seed in range(nets[part][1])
        for setting in onednn
    ]


def describe(result: dict[str, Any]) -> str:
    """One run's figures, for the progress line."""
    if "error" in result:
        return result["error"]
    if result["part"] == "edge":
        onset = result["onset_lr"]
        return "no onset up to 0.4" if onset is None else f"onset at lr {onset:.3f}"
    return f"test acc {result['test_accuracy']:.3f}, loss peak {result['loss_peak_ratio']:.2f}x"


def machine() -> str:
    """The CPU this ran on, and the TensorFlow version."""
    import tensorflow as tf

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, TensorFlow {tf.__version__}"


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def markdown(results: dict[str, Any]) -> str:
    """The tables the README quotes."""
    runs = results["runs"]
    lines = [f"Machine: {results['machine']}. Demo recipe: {results['recipe']}.", ""]
    edge = [r for r in runs if r["part"] == "edge"]
    if edge:
        lines += [
            "**Where training starts to diverge** (range test: learning rate ramped 0 to "
            f"{EDGE_MAX_LR} over {EDGE_EPOCHS} epochs; onset = first 5-step mean loss over "
            f"{EDGE_FACTOR}x max(start, ln 10); each cell seeds x oneDNN 0/1):",
            "",
            "| network | features before the classifier | onset learning rates | no onset |",
            "|---|---|---|---|",
        ]
        for net in dict.fromkeys(r["net"] for r in edge):
            rows = [r for r in edge if r["net"] == net]
            onsets = sorted(r["onset_lr"] for r in rows if r.get("onset_lr") is not None)
            features = results["features"][net]
            shown = ", ".join(f"{x:.3f}" for x in onsets) or "-"
            lines.append(
                f"| {net} | {features} | {shown} | {len(rows) - len(onsets)} of {len(rows)} |"
            )
        lines.append("")
    for part, title in (
        ("ablation", "The earlier recipe (peak learning rate 0.1) and one change at a time"),
        ("train", "`tfnas.train --experiment=demo`"),
        ("search", "`tfnas.search --experiment=demo`, its network retrained by `tfnas.train`"),
        ("reference", "released networks at 32 px, `tfnas.train --experiment=demo`"),
    ):
        rows = [r for r in runs if r["part"] == part]
        if not rows:
            continue
        lines += [
            f"**{title}**: test accuracy per run (seed: oneDNN 0 / 1), loss peak = highest "
            "20-step mean loss over its start (1.5 stops a run):",
            "",
            "| network | runs | converged | test accuracy, mean (min-max) | per seed | "
            "loss peak, max |",
            "|---|---|---|---|---|---|",
        ]
        for net in dict.fromkeys(r["label"] for r in rows):
            mine = [r for r in rows if r["label"] == net]
            accuracies = [r["test_accuracy"] for r in mine if "test_accuracy" in r]
            per_seed = []
            for seed in sorted({r["seed"] for r in mine}):
                cells = [
                    f"{r['test_accuracy']:.3f}" if "test_accuracy" in r else "diverged"
                    for r in sorted(mine, key=lambda r: r["onednn"])
                    if r["seed"] == seed
                ]
                per_seed.append(f"{seed}: {' / '.join(cells)}")
            peaks = [r["loss_peak_ratio"] for r in mine if "loss_peak_ratio" in r]
            lines.append(
                f"| {net} | {len(mine)} | {sum(r['converged'] for r in mine)} | "
                f"{_spread(accuracies)} | {'; '.join(per_seed)} | "
                f"{max(peaks) if peaks else float('nan'):.2f} |"
            )
        supernet = [r["supernet_test_accuracy"] for r in rows if "supernet_test_accuracy" in r]
        if supernet:
            lines += [
                "",
                "The searched networks with the weights they had in the supernet (before "
                f"retraining) scored {_spread(supernet)} on the test split.",
            ]
        lines.append("")
    trained = [r for r in runs if r["part"] in ("train", "search", "reference")]
    if trained:
        failed = [r for r in trained if not r["converged"]]
        lines.append(
            f"With the current recipes, all {len(trained)} training and search runs converged "
            f"(test accuracy >= {CONVERGED_ACCURACY})."
            if not failed
            else f"With the current recipes, {len(failed)} of {len(trained)} runs did not "
            "converge: "
            + "; ".join(
                f"{r['part']} {r['label']} seed {r['seed']} oneDNN {r['onednn']}" for r in failed
            )
        )
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    """Runs the chosen parts (or one range test, as a child), prints and writes the results."""
    from absl import flags

    del argv
    f = flags.FLAGS
    if f.edge_arch:  # a child process of the edge part
        result = range_test(f.edge_arch, f.seed)
        write_text_atomic(f.edge_out, json.dumps(result) + "\n")
        return 0
    parts = list(f.parts)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        print(f"error: --parts={','.join(parts)}: expected some of {', '.join(PARTS)}")
        return 2
    onednn = [int(x) for x in f.onednn]
    if any(x not in (0, 1) for x in onednn) or min(f.seeds, f.edge_seeds, f.reference_seeds) < 1:
        print("error: --onednn takes 0 and/or 1, and every seed count must be >= 1")
        return 2
    runs_dir = Path(f.runs_dir)
    archs = benchmark_networks(runs_dir)
    plan = planned_runs(parts, f.seeds, f.edge_seeds, f.reference_seeds, onednn)
    began = time.monotonic()
    results = []
    for index, run in enumerate(plan, 1):
        result = run_once(run, archs.get(run.net), runs_dir)
        results.append(result)
        print(
            f"[{index}/{len(plan)}] {run.part} {run.label} seed {run.seed} oneDNN {run.onednn}: "
            f"{describe(result)} ({result['minutes']:.1f} min; "
            f"{(time.monotonic() - began) / 60:.0f} min in)",
            flush=True,
        )
    from tfnas.train.config import resolve

    recipe = resolve("demo", arch="mobilenet_v2")
    report = {
        "machine": machine(),
        "recipe": (
            f"SGD Nesterov, peak learning rate {recipe.learning_rate} at batch "
            f"{recipe.batch_size}, {recipe.warmup_epochs} warmup epoch(s), {recipe.epochs} "
            f"epochs, label smoothing {recipe.label_smoothing}"
        ),
        "features": {
            name: load_net(str(path)).feature_mix_channels for name, path in archs.items()
        },
        "runs": [{k: v for k, v in r.items() if k != "losses"} for r in results],
    }
    text = markdown(report)
    print(text)
    out = Path(f.output_dir)
    write_text_atomic(out / "recipe_stability.json", json.dumps(report, indent=2) + "\n")
    write_text_atomic(out / "recipe_stability.md", text)
    return 0


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_list("parts", list(PARTS), f"Parts to run: {', '.join(PARTS)}.")
    flags.DEFINE_integer("seeds", 5, "Seeds of the train and search parts.")
    flags.DEFINE_integer("edge_seeds", 3, "Seeds of the edge and ablation parts.")
    flags.DEFINE_integer("reference_seeds", 2, "Seeds of the reference part.")
    flags.DEFINE_list("onednn", ["0", "1"], "TF_ENABLE_ONEDNN_OPTS settings to run with.")
    flags.DEFINE_string("runs_dir", "runs/recipe_stability", "Where the runs write (reused).")
    flags.DEFINE_string("output_dir", "benchmarks/results", "Where the results files go.")
    flags.DEFINE_string("edge_arch", None, "(internal) run one range test of this arch.json.")
    flags.DEFINE_string("edge_out", None, "(internal) where that range test writes.")
    flags.DEFINE_integer("seed", 0, "(internal) the range test's seed.")
    app.run(lambda argv: sys.exit(main(argv)))
