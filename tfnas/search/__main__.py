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

from absl import app

from tfnas.config.flags import define_config_flags, define_job_flags
from tfnas.engine.job import job_main
from tfnas.search.config import ALIASES, EXPERIMENTS, FLAG_HELP, SearchConfig
from tfnas.search.job import SEARCH

define_job_flags("search", EXPERIMENTS)
# Config values: None means "the experiment's value".
define_config_flags(SearchConfig, FLAG_HELP, ALIASES)

main = job_main(SEARCH, SearchConfig, ALIASES)

if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
