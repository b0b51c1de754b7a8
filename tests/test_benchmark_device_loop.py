"""`benchmarks.device_loop`: its targets, its reuse of finished loops and its report."""

import json

import pytest

from benchmarks import device_loop


def _report(target, rounds, on_target):
    return {
        "target_ms": target,
        "device": "Some CPU (2 cores)",
        "on_target": on_target,
        "finished": True,
        "rounds": [
            {
                "round": k + 1,
                "picked": "derived",
                "predicted_ms": predicted,
                "measured_ms": measured,
                "measured_parts": ["a"] * parts,
                "parts_before_pick": before_pick,
                "pick_steps": [{}] * (1 + (before_pick > 0)),
            }
            for k, (predicted, measured, parts, before_pick) in enumerate(rounds)
        ],
    }


def _figures():
    loops = {
        "p25": _report(0.1, [(0.1, 0.15, 12, 12), (0.1, 0.102, 3, 0)], True),
        "p50": _report(0.15, [(0.15, 0.2, 12, 12), (0.15, 0.17, 2, 2), (0.15, 0.16, 1, 0)], False),
    }
    return {
        "machine": "x86_64, 2 cores",
        "tolerance": 0.05,
        "loops": loops,
        "table_errors": device_loop.table_errors(loops),
    }


def test_targets_are_percentiles_of_the_space_on_the_cpu_model():
    targets = device_loop.space_percentiles((25, 50, 75))
    assert 0 < targets[25] < targets[50] < targets[75]


def test_the_tables_error_is_counted_against_what_it_held_before():
    rows = _figures()["table_errors"]
    # A round's prediction is made after the parts measured before its pick.
    assert [(r["loop"], r["parts_before"], r["networks_before"]) for r in rows] == [
        ("p25", 12, 0),
        ("p25", 12, 1),
        ("p50", 12, 0),
        ("p50", 14, 1),
        ("p50", 14, 2),
    ]
    assert rows[1]["error"] == pytest.approx((0.1 - 0.102) / 0.102)


def test_the_report_lists_every_round_and_whether_each_loop_landed(tmp_path):
    figures = _figures()
    text = device_loop.markdown(figures)
    assert "| p25: 0.1000 ms | 2 | derived | 1 | 0.1000 | 0.1020 | +2.0% | 3 |" in text
    assert "| p50: 0.1500 ms | 2 | derived | 2 | 0.1500 | 0.1700 | +13.3% | 2 |" in text
    assert (
        "p25 on target after 2 round(s); p50 NOT on target after 3 round(s); "
        "1 of 2 loops on target."
    ) in text
    assert device_loop.loop_name(50, 0) == "p50" and device_loop.loop_name(50, 2) == "p50-s2"
    assert "| p50 | 3 | 14 | 2 | -6.3% |" in text  # (0.15 - 0.16) / 0.16
    path = device_loop.plot(figures, tmp_path / "loop.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_finished_loop_is_reused_and_an_unfinished_one_needs_resume(tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    (done / "loop_report.json").write_text(json.dumps(_report(0.1, [], True)))
    assert device_loop.run_loop(["--no_such_flag"], done, resume=False)["target_ms"] == 0.1
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "loop_report.json").write_text(json.dumps({"rounds": []}))
    with pytest.raises(device_loop.PartError, match="unfinished loop: pass --resume"):
        device_loop.run_loop([], unfinished, resume=False)


def test_repeated_timings_are_reported_against_the_target():
    summary = device_loop.repeat_summary(_report(0.1, [], True), [0.098, 0.1, 0.104], 0.05)
    assert summary["median_offset"] == pytest.approx(0.0, abs=1e-12)
    assert summary["min_offset"] == pytest.approx(-0.02)
    assert summary["max_offset"] == pytest.approx(0.04)
    assert summary["all_within"]
    assert not device_loop.repeat_summary(_report(0.1, [], True), [0.1, 0.106], 0.05)["all_within"]
    figures = _figures() | {"repeated": {"p25": summary}}
    assert "| p25 | 3 | +0.0% | -2.0% to +4.0% | yes |" in device_loop.markdown(figures)


def test_a_loops_last_network_is_timed_again_on_this_host(tmp_path):
    from tfnas.nets.spec_json import save_spec
    from tfnas.search.config import resolve
    from tfnas.search.runner import build_space

    space = build_space(resolve("demo"), num_classes=10)
    arch = tmp_path / "p50" / "arch.json"
    arch.parent.mkdir()
    save_spec(space.select([0] * len(space.choice_blocks)), arch)
    timings = device_loop.retime(arch, 2)
    assert len(timings) == 2 and all(t > 0 for t in timings)
