"""`python -m tfnas.search`: search a network for a dataset and a latency target.

    python -m tfnas.search --experiment=demo
    python -m tfnas.search --experiment=imagenet --data_dir=DIR --target_latency=80
    python -m tfnas.search --experiment=demo --output_dir=runs/x --resume

`--experiment` (imagenet, cifar10, demo) sets every value; any other flag
overrides one. The resolved config goes to OUTPUT_DIR/config.json, and
`--resume` continues the run in OUTPUT_DIR from its last checkpoint with that
config (flags given with --resume must agree with it). Outputs: arch.json,
net.config, search_summary.json, arch_log.txt, alpha_history.png, arch.png,
tensorboard/, checkpoints/.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from absl import app, flags

from tfnas import run_config
from tfnas.search.config import (
    EXPERIMENTS,
    FIELDS,
    STRATEGIES,
    ConfigError,
    SearchConfig,
    load_config,
    resolve,
    save_config,
)

CONFIG_FILE = run_config.CONFIG_FILE
NONE_WORDS = ("none", "off")

flags.DEFINE_enum("experiment", "demo", list(EXPERIMENTS), "Named preset of every value.")
flags.DEFINE_string("output_dir", None, "Output folder (default: runs/search-TIMESTAMP).")
flags.DEFINE_bool("resume", False, "Continue the run in --output_dir from its last checkpoint.")
flags.DEFINE_integer(
    "cpu_devices", 1, "Split the CPU into this many logical devices (mirrored tests)."
)
flags.DEFINE_integer(
    "verbose",
    1,
    "1: a progress bar per epoch on a terminal, a line every --log_every steps off one "
    "(a log file); 0: one line per epoch.",
)
# Config fields: None means "the experiment's value".
flags.DEFINE_string("dataset", None, "demo, a tensorflow-datasets name, or folder:ROOT.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("manual_dir", None, "Manually downloaded files (imagenet2012).")
flags.DEFINE_bool("download", None, "Let tensorflow-datasets download and prepare the data.")
flags.DEFINE_string("augment", None, "inception, pad_crop_flip, pad_crop or none.")
flags.DEFINE_integer("valid_size", None, "Training examples held out for the arch steps.")
flags.DEFINE_string("space", None, "Registered search space.")
flags.DEFINE_float("width_mult", None, "Width multiplier of the space.")
flags.DEFINE_integer("resolution", None, "Input resolution.")
flags.DEFINE_integer("warmup_epochs", None, "Epochs of weights on uniformly sampled paths.")
flags.DEFINE_integer("epochs", None, "Search epochs after the warmup.")
flags.DEFINE_integer("steps_per_epoch", None, "Weight steps per epoch (0: the whole split).")
flags.DEFINE_integer("batch_size", None, "Global batch of the weight steps.")
flags.DEFINE_integer("valid_batch_size", None, "Global batch of the arch steps.")
flags.DEFINE_float("learning_rate", None, "Initial weight learning rate (cosine).")
flags.DEFINE_float("momentum", None, "SGD momentum.")
flags.DEFINE_bool("nesterov", None, "Nesterov momentum.")
flags.DEFINE_float("weight_decay", None, "L2 on the weights.")
flags.DEFINE_float("label_smoothing", None, "Label smoothing of the weight steps.")
flags.DEFINE_string("mode", None, "Arch gradient: two, full_v2, full, or reinforce.")
flags.DEFINE_float("arch_learning_rate", None, "Adam learning rate of alpha.")
flags.DEFINE_float("arch_beta1", None, "Adam beta_1 of alpha (the paper: 0).")
flags.DEFINE_float("arch_beta2", None, "Adam beta_2 of alpha.")
flags.DEFINE_float("arch_init_stddev", None, "Stddev of alpha's normal initialization.")
flags.DEFINE_integer("arch_update_every", None, "Weight steps per arch step.")
flags.DEFINE_integer("arch_start_epoch", None, "Search epochs without arch steps.")
flags.DEFINE_string("target", None, "mobile, cpu, flops, or a latency table / cost model file.")
flags.DEFINE_string(
    "target_latency", None, "Target latency in ms (MMACs for flops); 'none': no latency term."
)
flags.DEFINE_string("loss", None, "Latency loss: mul_log, add_linear, hinge or abs.")
flags.DEFINE_string(
    "latency_estimate", None, "expected (E[LAT]) or derived (the argmax net, straight-through)."
)
flags.DEFINE_list("loss_params", None, "Loss (or reward) parameters, e.g. lam=0.3,beta=0.5.")
flags.DEFINE_string("reward", None, "REINFORCE reward: mnas or tunas_abs.")
flags.DEFINE_integer("seed", None, "Seed of the split, the data order, the paths and alpha.")
flags.DEFINE_integer(
    "checkpoint_every", None, "Weight steps between checkpoints (and every epoch end)."
)
flags.DEFINE_integer("log_every", None, "Weight steps between TensorBoard scalars and log lines.")
flags.DEFINE_string("strategy", None, f"tf.distribute strategy: {', '.join(STRATEGIES)}.")
flags.DEFINE_bool("deterministic", None, "Deterministic ops (exact resume; a little slower).")

FLAGS = flags.FLAGS
# What a diverged search says to change before `--resume` (tfnas.divergence).
RESUME_ADJUSTABLE = ("learning_rate", "arch_learning_rate")


def _parse_target_latency(text: str) -> float | None:
    if text.lower() in NONE_WORDS:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"--target_latency={text!r}: expected a number (ms; MMACs for flops) or 'none'"
        ) from None


def _parse_loss_params(items: list[str]) -> dict[str, float]:
    params = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"--loss_params: {item!r} is not NAME=NUMBER (e.g. lam=0.3)")
    return params


def given_overrides() -> dict[str, Any]:
    """Config fields set on the command line, parsed."""
    parsers = {"target_latency": _parse_target_latency, "loss_params": _parse_loss_params}
    return run_config.given_overrides(FLAGS, FIELDS, parsers)


def resolve_run(resume: bool, output_dir: str | None) -> tuple[Any, Path]:
    """The config and output folder of this invocation (new run or resume)."""
    return run_config.resolve_run(
        "search",
        resume,
        output_dir,
        FLAGS.experiment,
        FLAGS["experiment"].present,
        given_overrides(),
        resolve,
        load_config,
        adjustable=RESUME_ADJUSTABLE,
    )


def main(argv: list[str]) -> int:
    """Runs the search; returns the exit status."""
    from tfnas.runtime import run_command

    def body() -> int:
        config, output_dir = resolve_run(FLAGS.resume, FLAGS.output_dir)
        if FLAGS.cpu_devices < 1:
            raise ConfigError(f"--cpu_devices={FLAGS.cpu_devices}: expected an integer >= 1")
        return _search(config, output_dir)

    return run_command(argv, body)


def _search(config: SearchConfig, output_dir: Path) -> int:
    from tfnas.datasets.pipeline import pipeline_for
    from tfnas.latency.targets import load_target
    from tfnas.runtime import configure_tensorflow, make_strategy

    load_target(config.target)  # a bad target fails before the data loads
    configure_tensorflow(config.seed, config.deterministic, FLAGS.cpu_devices, grappler=False)
    started = time.monotonic()
    pipeline = pipeline_for(config, config.valid_batch_size)
    source = pipeline.source
    from tfnas.search.runner import ObjectiveError, SearchRun

    strategy = make_strategy(config.strategy)
    try:
        run = SearchRun(config, pipeline, output_dir, strategy=strategy, verbose=FLAGS.verbose)
    except ObjectiveError as error:
        raise ConfigError(str(error)) from None
    if FLAGS.resume:
        try:
            run.restore()
        except ValueError as error:
            raise ConfigError(str(error)) from None
        run_config.report_adjusted(load_config(output_dir / CONFIG_FILE), config)
    save_config(config, output_dir / CONFIG_FILE)
    print(
        f"searching {run.space.name} ({len(run.space.choice_blocks)} choice blocks) on "
        f"{source.name} ({len(pipeline.train_indices)} train / {len(pipeline.valid_indices)} "
        f"valid images) for {config.target} at {config.target_latency} {run.latency.unit}, "
        f"{config.total_epochs} epochs x {run.steps_per_epoch} steps, "
        f"{strategy.num_replicas_in_sync} replica(s); output {output_dir}"
    )
    summary = run.run()
    minutes = (time.monotonic() - started) / 60
    test = summary.test_accuracy
    test = "none (the data has no test split)" if test is None else f"{test:.3f}"
    print(
        f"derived: {' '.join(summary.ops)}\n"
        f"latency {summary.latency:.3f} {summary.unit} (target "
        f"{summary.target_latency}), {summary.macs / 1e6:.1f}M MACs, "
        f"{summary.params / 1e6:.2f}M params, test accuracy {test}\n"
        f"outputs in {output_dir}/ ({minutes:.1f} min)"
    )
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
