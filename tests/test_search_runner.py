"""Pieces of the search loop that need no compiled supernet: the objectives."""

import pytest

from tfnas.latency.model import space_latency
from tfnas.latency.targets import load_target
from tfnas.search.config import resolve
from tfnas.search.runner import ObjectiveError, make_objectives
from tfnas.search.steps import accuracy_reward, cross_entropy_only
from tfnas.spaces import demo


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


def test_epochs_from_resumes_inside_the_epoch_a_step_falls_in():
    from tfnas.runtime import epochs_from

    assert list(epochs_from(0, 10, 3)) == [(0, 0), (1, 0), (2, 0)]
    assert list(epochs_from(14, 10, 3)) == [(1, 4), (2, 0)]
    assert list(epochs_from(30, 10, 3)) == []  # finished: nothing left to run
