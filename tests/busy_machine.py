"""Runs a command while every core of this machine is kept busy (`make test-busy`).

    python tests/busy_machine.py [--spinners=N] -- COMMAND ARGS...

No test may depend on this machine's speed or load; this is how that is
checked. It starts N processes that spin (`python3 -c 'while True: pass'`,
default: one per core), runs the command, then stops the spinners by their
PIDs whatever the command did, and reports the command's exit status and
wall time. Its own exit status is the command's.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

SPIN = "while True: pass"


def start_spinners(count: int) -> list[subprocess.Popen]:
    """`count` processes that keep one core each busy until stopped."""
    return [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]


def stop(spinners: list[subprocess.Popen]) -> None:
    """Stops each spinner by its PID and waits for it."""
    for spinner in spinners:
        if spinner.poll() is None:
            os.kill(spinner.pid, signal.SIGTERM)
    for spinner in spinners:
        spinner.wait(timeout=30)


def run_busy(command: list[str], spinners: int) -> int:
    """Runs `command` beside `spinners` spinning processes; returns its exit status."""
    busy = start_spinners(spinners)
    pids = " ".join(str(s.pid) for s in busy)
    print(f"busy_machine: {spinners} spinning processes (PIDs {pids}) beside: {' '.join(command)}")
    began = time.monotonic()
    try:
        status = subprocess.run(command).returncode
    finally:
        still_spinning = all(s.poll() is None for s in busy)
        stop(busy)
    minutes, seconds = divmod(time.monotonic() - began, 60)
    print(
        f"busy_machine: exit status {status} in {int(minutes)} min {seconds:.0f} s on "
        f"{os.cpu_count()} cores with {spinners} spinning processes "
        f"({'busy throughout' if still_spinning else 'a spinner ended early'}); stopped them"
    )
    return status


def main(argv: list[str] | None = None) -> int:
    """Parses `[--spinners=N] -- COMMAND...` and runs it on a busy machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spinners", type=int, default=os.cpu_count() or 1)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if args.spinners < 1:
        parser.error(f"--spinners={args.spinners}: expected an integer >= 1")
    return run_busy(command, args.spinners)


if __name__ == "__main__":
    sys.exit(main())
