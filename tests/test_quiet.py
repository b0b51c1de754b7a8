"""`tfnas.quiet`: commands start without TensorFlow's C++ start-up lines, and keep real errors."""

import os
import subprocess
import sys

import pytest
from commands import REPO_ROOT

from tfnas import quiet

# What TensorFlow 2.21 prints on starting on a 2-core VM without a GPU (ids and times vary).
START_UP = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796607612.270448    2450 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796607612.312957    2450 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.",
]
NO_GPU = [
    "I0000 00:00:1796607612.270734    2450 cudart_stub.cc:31] Could not find cuda drivers on your "
    "machine, GPU will not be used.",
    "E0000 00:00:1796607615.520623    2450 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
]
REAL = [
    "E0000 00:00:1796607615.520623    2450 op_kernel.cc:1857] OP_REQUIRES failed at "
    "conv_ops.cc:12 : INVALID_ARGUMENT: input depth must be evenly divisible by filter depth",
    "Traceback (most recent call last):",
    "WARNING: the model has no signature",
]


def test_the_start_up_lines_are_known_and_real_errors_are_not():
    assert all(quiet.is_start_up_noise(line) for line in START_UP + NO_GPU)
    assert not any(quiet.is_start_up_noise(line) for line in REAL)
    # With a GPU, saying there is none (or that cuInit failed) is a real error.
    assert all(quiet.is_start_up_noise(line, gpu=True) for line in START_UP)
    assert not any(quiet.is_start_up_noise(line, gpu=True) for line in NO_GPU)


@pytest.mark.parametrize(
    ("environ", "argv", "wanted"),
    [
        ({}, ["tfnas"], False),
        ({"TF_CPP_MIN_LOG_LEVEL": "0"}, ["tfnas"], True),
        ({"TF_CPP_MIN_LOG_LEVEL": "2"}, ["tfnas"], True),  # the user's own setting stays
        ({"TFNAS_TF_LOGS": "1"}, ["tfnas"], True),
        ({"TFNAS_TF_LOGS": "0"}, ["tfnas"], False),
        ({}, ["tfnas", "--verbosity=1"], True),
        ({}, ["tfnas", "--verbosity=0"], False),
    ],
)
def test_the_user_can_ask_for_tensorflows_own_output(environ, argv, wanted):
    assert quiet.wants_tensorflow_logs(environ, argv) is wanted


def test_captured_lines_are_written_back_but_the_start_up_lines(capfd):
    with quiet.start_up_lines_dropped(gpu=False):
        os.write(2, ("\n".join(START_UP + NO_GPU[:1] + REAL + NO_GPU[1:]) + "\n").encode())
    assert capfd.readouterr().err.splitlines() == REAL


def _run(code: str, **env: str) -> tuple[str, list[str]]:
    """`python -c code` in the repository without TF_CPP_MIN_LOG_LEVEL: stdout, stderr lines."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=environ | env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout, done.stderr.splitlines()


def _noise(lines: list[str]) -> list[str]:
    return [line for line in lines if quiet.is_start_up_noise(line, quiet.has_nvidia_gpu())]


STARTS_TENSORFLOW = (
    "import tensorflow as tf; tf.config.list_physical_devices(); "
    "print(tf.__loader__ is tf.__spec__.loader, tf.constant(2).numpy())"
)
# As `python -m` starts a command (Python sets argv[0] to -m while it imports the
# command's packages), and as the `tfnas` command starts one.
AS_MODULE = "import sys; sys.argv = ['-m']; import tfnas; sys.argv = ['cmd']; "
AS_TFNAS = "import tfnas.quiet; tfnas.quiet.quiet_tensorflow_start(argv=['tfnas']); "


def test_a_command_starts_without_tensorflows_noise_unless_asked():
    _, raw = _run(STARTS_TENSORFLOW)
    for start in (AS_MODULE, AS_TFNAS):
        out, lines = _run(start + STARTS_TENSORFLOW)
        assert out.split() == ["True", "2"]  # TensorFlow loaded as ever, and runs
        assert not any(quiet.is_start_up_noise(line) for line in lines), lines
    # Asked for, or imported as a library (not a command): what TensorFlow prints.
    assert len(_noise(_run(AS_MODULE + STARTS_TENSORFLOW, TFNAS_TF_LOGS="1")[1])) == len(
        _noise(raw)
    )
    assert len(_noise(_run("import tfnas; " + STARTS_TENSORFLOW)[1])) == len(_noise(raw))
