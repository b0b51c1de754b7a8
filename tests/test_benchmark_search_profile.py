"""`benchmarks.search_profile`: its timing rule, its epoch arithmetic, a run on the demo data."""

import pytest

from benchmarks import search_profile as sp
from benchmarks.stack_sampler import empty_counts

PHASES = {
    "data": 0.001,
    "weight_step": 0.010,
    "weight_step_derived_path": 0.009,
    "arch_step": 0.030,
    "derived_step": 0.008,
    "fit_step": 0.010,
    "bn_reestimation": 0.5,
    "valid_accuracy": 1.0,
    "test_accuracy": 2.0,
    "search_checkpoint": 0.1,
    "train_checkpoint": 0.05,
}
COUNTS = {
    "steps": 100,
    "batch_size": 128,
    "arch_steps": 20,
    "search_checkpoints": 2,
    "train_checkpoints": 1,
}


def test_a_phase_is_timed_after_its_untimed_first_calls_by_the_clock_given():
    calls, ticks = [], iter(range(100))
    seconds = sp.per_call(lambda: calls.append(1), 5, clock=lambda: float(next(ticks)))
    assert len(calls) == sp.WARMUP_CALLS + 5
    assert seconds == 1.0  # each timed call spans one tick of the stand-in clock


def test_each_epoch_is_its_steps_times_their_phases_plus_its_evaluation_and_checkpoints():
    estimates = sp.epoch_estimates(PHASES, COUNTS)
    assert estimates["search"] == pytest.approx(
        {
            "data": 0.1,
            "weight steps": 1.0,
            "arch steps": 0.6,
            "BN re-estimation": 0.5,
            "held-out evaluation": 1.0,
            "checkpoints": 0.2,
        }
    )
    assert estimates["train_total"] == pytest.approx(0.1 + 0.8 + 2.0 + 0.05)
    assert estimates["ratio"] == pytest.approx(3.4 / 2.95)
    # Training holds nothing out, so its epoch can have more steps than the search's.
    longer = sp.epoch_estimates(PHASES, COUNTS | {"train_steps": 110})
    assert longer["train"]["training steps"] == pytest.approx(110 * 0.008)
    assert longer["search"] == estimates["search"]
    assert estimates["fit_images_per_s"] == pytest.approx(12_800)
    assert estimates["train_images_per_s"] == pytest.approx(16_000)
    assert sp.arch_steps_in_epoch(10, lambda step: step % 5 == 4) == 2


def test_the_report_gives_each_phase_and_both_epochs():
    figures = {
        "experiment": "demo",
        "machine": "x86_64, 2 cores",
        "tensorflow": "2.21.0",
        "steps": 40,
        "phases": PHASES,
        "counts": COUNTS,
        "full_epochs": {
            "search": [9.0, 4.0],
            "train": [4.5, 3.0],
            "search_in_steps": [5.0, 3.5],
            "train_in_steps": [2.5, 2.75],
            "search_wall": 15.0,
            "train_wall": 9.0,
        },
    }
    text = sp.markdown(figures, sp.epoch_estimates(PHASES, COUNTS))
    assert "| arch_step | 30.00 |" in text
    assert "| arch steps | 0.6 | test evaluation | 2.0 |" in text
    assert "| BN re-estimation | 0.5 | checkpoints | 0.1 |" in text
    train_total = 0.1 + 0.8 + 2.0 + 0.05
    assert f"| **total** | **3.4** | **total** | **{train_total:.1f}** |" in text
    assert "Estimated search epoch / training epoch: 1.15x." in text
    assert "search 9.0 s then 4.0 s, training 4.5 s then 3.0 s; second epochs 1.33x" in text
    assert "(first epochs 2.00x: they trace the steps)" in text
    assert "inside the step calls: search 5.0 s and 3.5 s, training 2.5 s and 2.8 s" in text
    assert "batches): 4.0, 0.5, 2.0 and 0.2 s." in text
    assert "main thread sampled" not in text  # no sampled stacks, no table

    counters = empty_counts() | dict(
        wall_s=2.0, cpu_s=1.0, major_faults=3.0, steal_s=0.0, iowait_s=0.5
    )
    where = {"search epoch 2": {"inside": counters, "outside": counters, "top_outside": {}}}
    figures["full_epochs"]["where"] = where
    text = sp.markdown(figures, sp.epoch_estimates(PHASES, COUNTS))
    assert "| search epoch 2 | outside the steps | 2.0 | 1.0 | 3 | 0.0 | 0.5 |" in text


def test_the_step_clock_adds_up_each_epochs_calls_of_each_step():
    ticks = iter(range(0, 1000, 2))  # each call spans one 2 s tick of the stand-in clock
    step_clock = sp.StepClock(lambda: float(next(ticks)))
    weight = step_clock.wrap("weight", lambda x: x + 1)
    arch = step_clock.wrap("arch", lambda: None)
    assert [weight(k) for k in range(6)] == [1, 2, 3, 4, 5, 6]  # results pass through
    arch(), arch()
    assert step_clock.per_epoch({"weight": 3, "arch": 1}, 2) == [8.0, 8.0]
    assert step_clock.per_epoch({"weight": 2}, 3) == [4.0, 4.0, 4.0]
    # A call's epoch, its end of epoch included: 6 weight calls are 2 epochs of 3.
    assert step_clock.epoch_label("search", "weight", 3) == "search epoch 2"
    assert step_clock.epoch_label("search", "weight", 6) == "search epoch 1"
    assert step_clock.epoch_label("training", "train", 4) == "training epoch 1"  # none yet
    assert step_clock.running is None


def test_the_step_clock_says_which_step_is_running():
    step_clock = sp.StepClock(lambda: 0.0)
    seen = []
    weight = step_clock.wrap("weight", lambda: seen.append(step_clock.running))
    weight()
    assert seen == ["weight"] and step_clock.running is None
    failing = step_clock.wrap("arch", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing()
    assert step_clock.running is None  # cleared when a step raises


def test_rounds_take_turns_and_keep_each_phases_times_in_order():
    order = []

    def timed(name: str, seconds: list[float]):
        values = iter(seconds)
        return lambda: order.append(name) or next(values)

    times = sp.interleaved(
        {"a": timed("a", [1.0, 2.0, 3.0]), "b": timed("b", [4.0, 4.0, 6.0])}, rounds=3
    )
    assert order == ["a", "b"] * 3
    assert times == {"a": [1.0, 2.0, 3.0], "b": [4.0, 4.0, 6.0]}
    assert sp.round_ratios(times, "b", "a") == [4.0, 2.0, 2.0]


def test_each_round_gives_its_own_epoch_ratio_and_train_vs_fit():
    # Round 2 is a slow spell: every step twice as long, so its ratios barely move.
    steps = ("weight_step", "weight_step_derived_path", "arch_step", "derived_step", "fit_step")
    times = {name: [PHASES[name], 2 * PHASES[name]] for name in steps}
    figures = {"phases": PHASES, "counts": COUNTS, "round_times": times}
    spread = sp.per_round(figures)
    assert spread["train_vs_fit"] == pytest.approx([0.010 / 0.008] * 2)
    assert spread["epoch_ratio"][0] == pytest.approx(sp.epoch_estimates(PHASES, COUNTS)["ratio"])
    slow = PHASES | {name: 2 * PHASES[name] for name in steps}
    assert spread["epoch_ratio"][1] == pytest.approx(sp.epoch_estimates(slow, COUNTS)["ratio"])


def test_a_pinned_path_is_sampled_every_time_and_the_logits_come_back():
    import numpy as np
    import tensorflow as tf

    from tfnas.nets import sampling

    alphas = [tf.Variable([0.3, -0.2, 0.1]), tf.Variable([1.0, 0.0])]
    before = [alpha.numpy().copy() for alpha in alphas]
    with sp.pinned_path(alphas, [2, 1]):
        for step in range(20):
            sample = sampling.sample_one(alphas, tf.constant([0, step]))
            assert sample.active.numpy().tolist() == [2, 1]
    for alpha, value in zip(alphas, before, strict=True):
        np.testing.assert_array_equal(alpha.numpy(), value)


@pytest.mark.slow
def test_the_demo_profile_times_every_phase_and_both_whole_epochs(tmp_path):
    figures = sp.profile("demo", 2, tmp_path, rounds=2)
    assert set(figures["phases"]) == set(PHASES)
    assert all(len(seconds) == 2 for seconds in figures["round_times"].values())
    assert "Per interleaved round (2 rounds" in sp.markdown(
        figures, sp.epoch_estimates(figures["phases"], figures["counts"])
    )
    assert all(seconds > 0 for seconds in figures["phases"].values())
    assert figures["counts"]["arch_steps"] > 0
    full = figures["full_epochs"]
    assert len(full["search"]) == len(full["train"]) == 2
    assert full["search_wall"] > sum(full["search"]) > 0 and full["train_wall"] > 0
    for job in ("search", "train"):  # the steps run inside the epochs
        assert all(
            0 < inside < total
            for inside, total in zip(full[f"{job}_in_steps"], full[job], strict=True)
        )
    where = full["where"]  # the sampled stacks, by epoch, inside and outside the steps
    assert {"search epoch 1", "search epoch 2", "training epoch 1", "training epoch 2"} <= set(
        where
    )
    assert all(entry["inside"]["wall_s"] > 0 for entry in where.values())
    estimates = sp.epoch_estimates(figures["phases"], figures["counts"])
    assert estimates["search_total"] > 0 and estimates["train_total"] > 0
