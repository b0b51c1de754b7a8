"""`python -m tfnas.search`: search a network for a dataset and a latency target.

    python -m tfnas.search --experiment=demo
    python -m tfnas.search --experiment=imagenet --data_dir=DIR --target_latency=80
    python -m tfnas.search --experiment=demo --output_dir=runs/x --resume

`--experiment` (imagenet, cifar10, demo, fashion_mnist) sets every value; any other flag
overrides one. The resolved config goes to OUTPUT_DIR/config.json, and
`--resume` continues the run in OUTPUT_DIR from its last checkpoint with that
config (flags given with --resume must agree with it). Outputs: arch.json,
net.config, search_summary.json, arch_log.txt, alpha_history.png, arch.png,
tensorboard/, checkpoints/.
"""

from __future__ import annotations

import sys

from absl import app, flags

from tfnas.config.flags import define_config_flags, define_job_flags, flag_overrides
from tfnas.engine.command import run_command
from tfnas.engine.job import run_job
from tfnas.search.config import ALIASES, EXPERIMENTS, FLAG_HELP, SearchConfig
from tfnas.search.job import SEARCH

define_job_flags("search", EXPERIMENTS)
# Config values: None means "the experiment's value".
define_config_flags(SearchConfig, FLAG_HELP, ALIASES)

FLAGS = flags.FLAGS


def main(argv: list[str]) -> int:
    """Runs the search; returns the exit status."""

    def body() -> int:
        config, output_dir = SEARCH.resolve_run(
            FLAGS.resume,
            FLAGS.output_dir,
            FLAGS.experiment,
            FLAGS["experiment"].present,
            flag_overrides(SearchConfig, ALIASES),
        )
        run_job(
            SEARCH,
            config,
            output_dir,
            resume=FLAGS.resume,
            verbose=FLAGS.verbose,
            cpu_devices=FLAGS.cpu_devices,
        )
        return 0

    return run_command(argv, body)


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
