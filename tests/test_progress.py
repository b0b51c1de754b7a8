"""`tfnas.engine.progress`: a bar on a terminal, a plain line every `log_every` steps elsewhere."""

import io

from tfnas.engine.progress import EpochProgress, is_terminal


def run_epoch(progress: EpochProgress, steps: int, first_run_step: int = 0) -> None:
    for done in range(1, steps + 1):
        progress.update(done, first_run_step + done, {"loss": 1.0 / done}, {"loss": 1.0 / done})


def test_off_a_terminal_it_prints_a_plain_line_every_log_every_steps():
    lines: list[str] = []
    progress = EpochProgress(10, 4, "epoch 2/3", terminal=False, log=lines.append)
    run_epoch(progress, 10, first_run_step=10)  # run steps 11..20
    # Run steps 12 and 16 are multiples of 4; run step 20 ends the epoch, whose own line follows.
    assert lines == [
        "epoch 2/3: step 2/10 (run step 12), loss 0.5",
        "epoch 2/3: step 6/10 (run step 16), loss 0.1667",
    ]
    assert progress.bar is None
    assert not any(char in "".join(lines) for char in "\r\b\x1b")


def test_on_a_terminal_it_keeps_the_bar_and_prints_no_lines():
    lines: list[str] = []
    progress = EpochProgress(10, 1, "epoch 1/1", terminal=True, log=lines.append, done=3)
    run_epoch(progress, 10)
    assert progress.bar is not None and progress.bar._seen_so_far == 10
    assert lines == []


def test_verbose_0_reports_nothing():
    lines: list[str] = []
    run_epoch(EpochProgress(10, 1, "e", verbose=0, terminal=False, log=lines.append), 10)
    run_epoch(EpochProgress(10, 1, "e", verbose=0, terminal=True, log=lines.append), 10)
    assert lines == []


def test_a_file_or_a_pipe_is_not_a_terminal():
    assert not is_terminal(io.StringIO())
