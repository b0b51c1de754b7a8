"""Commands start without TensorFlow's C++ start-up lines.

On a machine without a GPU, every process that imports TensorFlow 2.21 first
prints lines such as

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ...

twice (two shared libraries, each with its own logger) and the cuInit line once
the devices are first listed. To a user they read as errors. The first ones are
written before TensorFlow reads `TF_CPP_MIN_LOG_LEVEL`, so that variable alone
cannot hide them; the cuInit line is an error-level line, which hiding would
hide every real error too.

`quiet_tensorflow_start` (called by every command before anything imports
TensorFlow) therefore sets `TF_CPP_MIN_LOG_LEVEL=2` (info and warnings off,
errors on) and makes the process's first `import tensorflow` run with its
standard error (file descriptor 2) captured, lists the devices while it is
still captured, and writes back every captured line except the known start-up
lines (`is_start_up_noise`). Nothing is filtered after that. The hook is lazy:
a command that never imports TensorFlow never loads it.

A user who sets `TF_CPP_MIN_LOG_LEVEL` (any value), sets `TFNAS_TF_LOGS=1`, or
passes absl's `--verbosity=1` (or higher) gets TensorFlow's output untouched.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from types import ModuleType

# TensorFlow's own start-up lines: what they say, and where they come from.
_START_UP = (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"\] oneDNN custom operations are on\. ",
    r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler",
    r"\] Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register factory for plugin",
    r"computation_placer\.cc:\d+\] computation placer already registered",
)
# Lines that say there is no GPU: noise only on a machine that has none.
_NO_GPU = (
    r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used",
    r"cuda_(platform|executor)\.cc:\d+\] failed call to cuInit",
)
OPT_OUT = "TFNAS_TF_LOGS"
_started = False  # set by the first quiet_tensorflow_start that quiets


def has_nvidia_gpu() -> bool:
    """Whether this machine has an NVIDIA device node (a GPU TensorFlow could use)."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def is_start_up_noise(line: str, gpu: bool = False) -> bool:
    """Whether `line` is one of TensorFlow's start-up lines (the no-GPU lines only without one)."""
    patterns = _START_UP if gpu else _START_UP + _NO_GPU
    return any(re.search(pattern, line.rstrip("\r\n")) for pattern in patterns)


def wants_tensorflow_logs(environ: Mapping[str, str], argv: Sequence[str]) -> bool:
    """Whether the user asked for TensorFlow's own output: its variable, ours, or `--verbosity`."""
    if "TF_CPP_MIN_LOG_LEVEL" in environ or environ.get(OPT_OUT, "") not in ("", "0"):
        return True
    for arg in argv:
        match = re.fullmatch(r"--verbosity=(-?\d+)", arg)
        if match and int(match.group(1)) >= 1:
            return True
    return False


@contextlib.contextmanager
def start_up_lines_dropped(gpu: bool) -> Iterator[None]:
    """Captures file descriptor 2 in the block; then writes back all but the start-up lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not is_start_up_noise(line, gpu))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run with its start-up lines dropped."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # TensorFlow sees its own loader, as in any import; this one only wraps the call.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        with start_up_lines_dropped(has_nvidia_gpu()):
            self.loader.exec_module(module)
            module.config.list_physical_devices()  # where the cuInit line is printed


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as Python would, and hands back a spec with the quiet loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the next lookup is Python's own
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_start(
    environ: MutableMapping[str, str] | None = None, argv: Sequence[str] | None = None
) -> bool:
    """Hides TensorFlow's start-up lines from this process's commands, unless the user wants them.

    Call it before anything imports TensorFlow; a later call does nothing more.

    Args:
        environ: The environment to read and set (default: `os.environ`).
        argv: The command line (default: `sys.argv`).

    Returns:
        Whether the start-up lines will be dropped.
    """
    global _started
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    if _started:
        return True
    if wants_tensorflow_logs(environ, argv):
        return False
    environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
    _started = True
    return True


def quiet_when_started_as_command() -> None:
    """`quiet_tensorflow_start` while `python -m PACKAGE.MODULE` starts a module of this package.

    Python sets `sys.argv[0]` to `-m` while it imports the packages of the module
    that `-m` names, and to the module's path once it runs it; a package's
    `__init__` calls this, so every `python -m` command of the package starts
    quiet, and importing the package as a library changes nothing.
    """
    if sys.argv[:1] == ["-m"]:
        quiet_tensorflow_start()
