"""`tfnas`: one command whose subcommands are the project's `python -m` entry points.

`tfnas search --target=mobile` runs exactly what `python -m tfnas.search
--target=mobile` runs: the subcommand's module is executed as `__main__` with
the remaining arguments, so its flags, help and exit status are its own. The
modules are named here, not imported, so this library does not depend on the
tools built on it (`deploy`, `tflite_bench`) until a user asks for one of them.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

from tfnas.quiet import quiet_tensorflow_start

# Subcommand -> (module run as __main__, what it does).
COMMANDS: dict[str, tuple[str, str]] = {
    "search": ("tfnas.search", "search an architecture for a latency target"),
    "train": ("tfnas.train", "train a network from scratch (optionally tune the recipe)"),
    "compare": ("tfnas.compare", "ProxylessNAS against keras-tuner at an equal budget"),
    "loop": ("tfnas.loop", "search, measure on the device, refresh its table, until on target"),
    "net": ("tfnas.nets", "summarize, tabulate, convert and draw network specs"),
    "latency": ("tfnas.latency", "fit cost models, predict latency, import tables"),
    "export": ("deploy.export", "SavedModel and TFLite files of a trained network"),
    "qat": ("deploy.qat", "quantization-aware fine-tuning to an int8 TFLite model"),
    "measure": ("tflite_bench.measure", "time TFLite models on this host or a phone (adb)"),
    "build-table": ("tflite_bench.build_table", "measure a per-block latency table"),
    "validate": ("tflite_bench.validate", "compare a latency table with whole networks"),
    "refresh": ("tflite_bench.refresh", "measure a deployed network into its device's table"),
}


def usage() -> str:
    """The list of subcommands, as `tfnas --help` prints it."""
    width = max(map(len, COMMANDS))
    lines = ["usage: tfnas COMMAND [FLAGS...]   (tfnas COMMAND --help for its flags)", ""]
    lines += [f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the subcommand named by `argv[0]` (default: the process arguments)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(
            f"error: unknown command {name!r}; expected one of {', '.join(COMMANDS)} "
            "(tfnas --help lists them)",
            file=sys.stderr,
        )
        return 2
    module = COMMANDS[name][0]
    quiet_tensorflow_start()  # before the command imports TensorFlow
    sys.argv[1:] = rest  # runpy's alter_sys sets argv[0] to the module's file
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:  # absl's app.run ends every command this way
        code = done.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    return 0
