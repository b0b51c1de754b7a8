"""`python -m tfnas.loop`: the loop's flags; the loop itself is `tfnas.loop.run`."""

import sys

from absl import app, flags

from tflite_bench.device_flags import define_device_flags
from tfnas.config.flags import define_config_flags, define_job_flags
from tfnas.loop.run import DEFAULT_BASE, DEFAULT_PASSES, DEFAULT_TOLERANCE, main
from tfnas.search.config import ALIASES, EXPERIMENTS, FLAG_HELP, SearchConfig


def define_flags() -> None:
    """The loop's flags: the device's, every search flag, and the loop's own."""
    define_device_flags()
    define_config_flags(SearchConfig, FLAG_HELP, ALIASES)
    define_job_flags(
        "loop",
        EXPERIMENTS,
        experiment_help="The search's preset.",
        resume_help="Continue the loop in --output_dir.",
        trains=False,
    )
    flags.DEFINE_string("table", None, "The device's table (default OUTPUT_DIR/device_table.json).")
    flags.DEFINE_string("base", DEFAULT_BASE, "What a new table starts from: cpu, mobile, a file.")
    flags.DEFINE_integer("rounds", 3, "At most this many rounds.")
    flags.DEFINE_float("tolerance", DEFAULT_TOLERANCE, "Stop within this fraction of the target.")
    flags.DEFINE_integer("extra_epochs", 1, "Search epochs each later round adds.")
    flags.DEFINE_integer(
        "pick_steps", 4, "Picks a round tries, measuring the parts each lacks before the next."
    )
    flags.DEFINE_integer(
        "passes", DEFAULT_PASSES, "Timings of each round's network; their median decides."
    )
    flags.DEFINE_bool(
        "time_deployed",
        False,
        "Also time each round's network as deploy.export writes it (with its normalization "
        "and softmax, batch 1), beside the bare conversion the table learns from.",
    )


if __name__ == "__main__":
    define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
