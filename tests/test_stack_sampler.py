"""The stack sampler: counters read right, samples charged to the right place and step."""

import json
import sys
import time

import pytest

from benchmarks import stack_sampler as ss

PROC_STAT = "cpu  100 5 50 9000 300 0 7 250 0 0\ncpu0 50 2 25 4500 150 0 3 125 0 0\n"


def test_steal_and_iowait_come_from_the_first_cpu_line_in_seconds():
    assert ss.proc_stat_seconds(PROC_STAT, ticks_per_second=100) == {
        "steal_s": 2.5,
        "iowait_s": 3.0,
    }


def test_an_unexpected_proc_stat_names_what_it_found():
    with pytest.raises(ValueError, match=r"starts with 'intr 1 2.*expected a `cpu` line"):
        ss.proc_stat_seconds("intr 1 2\n", ticks_per_second=100)


def test_the_machine_counters_grow_with_work():
    before = ss.machine_counters()
    sum(k * k for k in range(200_000))  # some CPU time for this process
    after = ss.machine_counters()
    assert set(before) == set(ss.COUNTERS)
    assert after["wall_s"] > before["wall_s"]
    assert after["cpu_s"] >= before["cpu_s"]
    assert all(after[name] >= before[name] for name in ss.COUNTERS)


def stdlib_frame_under_test_function():
    """The frame of json's decoder, called from this test module's code."""
    frames = []

    def hook(obj):
        frames.append(sys._getframe(1))  # the decoder's Python frame that called the hook
        return obj

    json.loads('{"a": 1}', object_hook=hook)
    return frames[0]


def test_a_place_names_this_repositorys_innermost_frame_and_the_innermost_of_all():
    own, innermost = ss.place_of(stdlib_frame_under_test_function())
    assert innermost.startswith("decoder.py:")  # the standard library's, by its file name
    assert own.startswith("tests/test_stack_sampler.py:stdlib_frame_under_test_function:")
    assert ss.place_of(None) == ("?", "?")


def fake_counters():
    """Each read adds 1 s of wall, 0.5 s of CPU and 2 major faults; steal grows 0.25 s."""
    reads = iter(range(1000))

    def read():
        k = next(reads)
        return {
            "wall_s": float(k),
            "cpu_s": 0.5 * k,
            "major_faults": 2.0 * k,
            "steal_s": 0.25 * k,
            "iowait_s": 0.0,
        }

    return read


def test_samples_are_charged_to_their_step_or_place_and_summarized_per_label():
    state = {"label": "search epoch 1", "step": "weight"}
    sampler = ss.StackSampler(
        lambda: state["label"], lambda: state["step"], counters=fake_counters()
    )
    frame = stdlib_frame_under_test_function()
    last = sampler.counters()
    last = sampler.sample(frame, last)  # inside the weight step
    state["step"] = None
    last = sampler.sample(frame, last)  # outside, twice at the same place
    last = sampler.sample(frame, last)
    last = sampler.sample(None, last)  # outside, at an unknown place
    state["label"] = "search epoch 2"
    sampler.sample(None, last)

    summary = ss.summarize(sampler.samples, top=1)
    first = summary["search epoch 1"]
    assert first["inside"] == {
        "wall_s": 1.0,
        "cpu_s": 0.5,
        "major_faults": 2.0,
        "steal_s": 0.25,
        "iowait_s": 0.0,
        "samples": 1,
        "longest_s": 1.0,
        "machine_stall_s": 0.0,
    }
    assert first["outside"]["wall_s"] == 3.0
    [(place, counters)] = first["top_outside"].items()  # top=1: the place with most wall time
    assert place.startswith("tests/test_stack_sampler.py:") and " <- decoder.py:" in place
    assert counters["wall_s"] == 2.0 and counters["major_faults"] == 4.0
    assert summary["search epoch 2"]["outside"]["wall_s"] == 1.0
    table = "\n".join(ss.markdown_lines(summary))
    assert (
        "| search epoch 1 | outside the steps | 3.0 | 1.5 | 6 | 0.8 | 0.0 | 3 | 1.0 | 0.0 |"
        in table
    )


def sleep_until_sampled(sampler: ss.StackSampler, samples: int) -> None:
    """Sleeps in short naps until `sampler` holds `samples` (60 s at most, for a loaded machine)."""
    deadline = time.monotonic() + 60
    while len(sampler.samples) < samples and time.monotonic() < deadline:
        time.sleep(0.005)


def test_the_thread_samples_the_main_thread_where_it_is():
    with ss.StackSampler(lambda: "run", lambda: None, interval=0.001) as sampler:
        sleep_until_sampled(sampler, 3)
    assert len(sampler.samples) >= 3, "fewer than 3 samples in 60 s"
    places = {sample.own_place.rsplit(":", 1)[0] for sample in sampler.samples}
    assert "tests/test_stack_sampler.py:sleep_until_sampled" in places
    assert all(sample.step is None and sample.label == "run" for sample in sampler.samples)


def test_a_non_positive_interval_is_refused():
    with pytest.raises(ValueError, match=r"interval=0.*expected seconds > 0"):
        ss.StackSampler(lambda: "", lambda: None, interval=0)


def test_machine_gaps_are_charged_to_the_samples_they_overlap():
    assert ss.overlap([(1.0, 3.0), (10.0, 11.0)], 2.0, 10.5) == 1.5
    assert ss.overlap([], 0.0, 5.0) == 0.0
    deltas = dict.fromkeys(ss.COUNTERS, 0.0)
    stalled = ss.Sample(20.0, "run", None, "a", "a", {**deltas, "wall_s": 12.0})
    quick = ss.Sample(20.25, "run", None, "a", "a", {**deltas, "wall_s": 0.25})
    summary = ss.summarize([stalled, quick], machine_gaps=[(9.0, 18.0)])
    outside = summary["run"]["outside"]
    assert outside["samples"] == 2
    assert outside["longest_s"] == 12.0  # the sampler itself did not run for 12 s
    assert outside["machine_stall_s"] == 9.0  # the stalled interval 8..20 holds the gap 9..18
    table = "\n".join(ss.markdown_lines(summary))
    assert "| run | outside the steps | 12.2 | 0.0 | 0 | 0.0 | 0.0 | 2 | 12.0 | 9.0 |" in table


def test_the_heartbeats_lines_are_gaps_and_its_process_stops_cleanly():
    assert ss.parse_gaps("1.5 2.5\n\n3.0 7.0\n") == [(1.5, 2.5), (3.0, 7.0)]
    with ss.Heartbeat() as heartbeat:
        pass
    assert heartbeat._process.returncode is not None  # terminated and reaped
    assert all(ended > began for began, ended in heartbeat.gaps)
