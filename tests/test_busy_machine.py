"""`tests/busy_machine.py` (`make test-busy`): a command beside spinning processes."""

import os
import sys

import busy_machine
import pytest


def test_spinners_run_until_stopped_by_their_pids():
    spinners = busy_machine.start_spinners(2)
    try:
        assert all(spinner.poll() is None for spinner in spinners)
    finally:
        busy_machine.stop(spinners)
    assert all(spinner.returncode is not None for spinner in spinners)


def test_the_commands_status_is_returned_and_the_spinners_stopped(capsys):
    status = busy_machine.main(["--spinners=1", "--", sys.executable, "-c", "raise SystemExit(3)"])
    assert status == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("busy_machine: 1 spinning processes (PIDs ")
    pid = int(lines[0].split("PIDs ")[1].split(")")[0])
    assert "exit status 3" in lines[-1] and "busy throughout" in lines[-1]
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pid, 0)


def test_a_command_is_required():
    with pytest.raises(SystemExit):
        busy_machine.main(["--spinners=1"])
