"""Pieces of the search loop that need no compiled supernet: the objectives."""

import pytest

from tfnas.latency.model import space_latency
from tfnas.latency.targets import load_target
from tfnas.nets.spaces import demo
from tfnas.search.config import resolve
from tfnas.search.runner import ObjectiveError, arch_step_follows, make_objectives
from tfnas.search.steps import accuracy_reward, cross_entropy_only


def test_objectives_follow_the_mode_and_the_target():
    latency = space_latency(load_target("mobile"), demo())
    plain = make_objectives(resolve("demo", target_latency=None), latency)
    assert plain == (cross_entropy_only, accuracy_reward)
    objective, reward = make_objectives(resolve("demo"), latency)
    assert objective is not cross_entropy_only and reward is accuracy_reward
    objective, reward = make_objectives(resolve("demo", mode="reinforce"), latency)
    assert objective is cross_entropy_only and reward is not accuracy_reward


def test_a_target_the_loss_cannot_use_is_an_objective_error():
    latency = space_latency(load_target("mobile"), demo())
    with pytest.raises(ObjectiveError, match="mul_log divides by log"):
        make_objectives(resolve("demo", loss="mul_log", target_latency=0.8), latency)


def _arch_steps_of_epoch(epoch, steps_per_epoch, **overrides):
    arch = resolve("demo", **overrides).arch_search
    first = epoch * steps_per_epoch
    return [
        step - first
        for step in range(first, first + steps_per_epoch)
        if arch_step_follows(step, steps_per_epoch, arch)
    ]


def test_reinforce_spreads_its_updates_evenly_over_each_epoch_as_the_reference():
    for epoch in (0, 3):
        steps = _arch_steps_of_epoch(epoch, 100, mode="reinforce", rl_updates_per_epoch=30)
        assert len(steps) == 30 and steps[-1] == 99  # the last one ends the epoch
        gaps = {b - a for a, b in zip([-1, *steps], steps, strict=False)}
        assert gaps <= {3, 4}  # 100 steps in 30 segments of 3 or 4
    # An epoch shorter than the updates asked for: one after every step.
    assert _arch_steps_of_epoch(1, 7, mode="reinforce", rl_updates_per_epoch=300) == list(range(7))
    # 0, and the gradient modes: every arch_update_every steps of the run.
    every = {"arch_update_every": 3}
    assert _arch_steps_of_epoch(0, 10, mode="reinforce", rl_updates_per_epoch=0, **every) == [
        2,
        5,
        8,
    ]
    assert _arch_steps_of_epoch(0, 10, mode="two", rl_updates_per_epoch=30, **every) == [2, 5, 8]


def test_epochs_from_resumes_inside_the_epoch_a_step_falls_in():
    from tfnas.engine.epoch_loop import epochs_from

    assert list(epochs_from(0, 10, 3)) == [(0, 0), (1, 0), (2, 0)]
    assert list(epochs_from(14, 10, 3)) == [(1, 4), (2, 0)]
    assert list(epochs_from(30, 10, 3)) == []  # finished: nothing left to run


def test_a_grayscale_dataset_gets_a_space_with_one_input_channel():
    from tfnas.latency.keys import spec_parts
    from tfnas.nets.builder import build_net
    from tfnas.search.runner import build_space

    space = build_space(resolve("demo"), num_classes=10, in_channels=1)
    assert space.in_channels == 1
    net = space.select([0] * len(space.choice_blocks))
    model = build_net(net)
    assert model.input_shape == (None, 32, 32, 1)
    stem = next(spec_parts(net)).keys[0]
    assert stem.input_shape == (32, 32, 1)  # a first conv over one channel is its own key
    gray, rgb = (space_latency(load_target("mobile"), s).fixed for s in (space, demo()))
    assert 0 < gray < rgb  # the model prices the thinner first convolution
