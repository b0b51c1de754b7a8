"""The keras-tuner HyperModel over the search space: every config builds and is scored,
the latency constraint, and failing trials reported as errors."""

import keras_tuner as kt
import numpy as np
import pytest

from tfnas.baselines.hypermodel import (
    SpaceHyperModel,
    TrialFailedError,
    make_tuner,
    run_tuner,
)
from tfnas.datasets.pipeline import Pipeline
from tfnas.datasets.sources import demo_source
from tfnas.latency.model import net_latency, space_latency
from tfnas.latency.objectives import latency_reward
from tfnas.latency.targets import load_target
from tfnas.spaces import demo


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(
        demo_source(),
        32,
        batch_size=32,
        valid_batch_size=100,
        valid_size=200,
        augment="none",
        seed=0,
    )


def hypermodel(pipeline, target, constraint="reject", train=None, kind=SpaceHyperModel):
    space = demo()
    return kind(
        space,
        space_latency(load_target("mobile"), space),
        target,
        train or (lambda: pipeline.train_epoch(0)),
        pipeline.valid_batches,
        steps=2,
        constraint=constraint,
    )


def random_hp(model, rng):
    hp = kt.HyperParameters()
    model.choices(hp)  # declares the hyperparameters
    for index, block in enumerate(model.space.choice_blocks):
        hp.values[f"block{index:02d}"] = int(rng.integers(len(block.candidates)))
    return hp


def test_every_sampled_config_builds_a_network_the_latency_model_scores(pipeline):
    model = hypermodel(pipeline, 1.0)
    target = load_target("mobile")
    rng = np.random.default_rng(0)
    for _ in range(8):
        hp = random_hp(model, rng)
        network = model.build(hp)
        spec = model.spec(hp)
        assert network.count_params() > 0
        assert model.latency_of(hp) == pytest.approx(net_latency(target, spec).total)


def test_a_candidate_over_the_limit_is_rejected_without_training(pipeline):
    def no_training():
        raise AssertionError("a rejected candidate must not train")

    model = hypermodel(pipeline, 1e-6, train=no_training)
    hp = random_hp(model, np.random.default_rng(1))
    result = model.fit(hp, model.build(hp))
    assert result["score"] == 0.0 and result["trained_steps"] == 0
    assert result["latency"] > 1e-6


def test_within_the_limit_it_trains_and_rewards_score_like_the_search(pipeline):
    model = hypermodel(pipeline, 1e3)
    hp = random_hp(model, np.random.default_rng(2))
    result = model.fit(hp, model.build(hp))
    assert result["trained_steps"] == 2 and result["score"] == result["val_accuracy"]
    rewarded = hypermodel(pipeline, 1.0, constraint="mnas")
    result = rewarded.fit(hp, rewarded.build(hp))
    expected = latency_reward("mnas", result["val_accuracy"], result["latency"], 1.0)
    assert result["score"] == pytest.approx(float(expected))


def test_a_random_search_returns_its_trials_best_first(pipeline, tmp_path):
    tuner = make_tuner("random", hypermodel(pipeline, 1e3), max_trials=2, directory=tmp_path)
    rows = run_tuner(tuner)
    assert len(rows) == 2 and rows[0]["score"] >= rows[1]["score"]
    assert len(rows[0]["choices"]) == len(demo().choice_blocks)


def test_a_failing_trial_is_an_error_not_an_empty_result(pipeline, tmp_path):
    class Broken(SpaceHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            raise ValueError("the trial broke")

    model = hypermodel(pipeline, 1e3, kind=Broken)
    tuner = make_tuner("random", model, max_trials=2, directory=tmp_path)
    with pytest.raises(TrialFailedError, match="the trial broke"):
        run_tuner(tuner)


def test_bad_settings_are_named(pipeline):
    with pytest.raises(ValueError, match="constraint 'soft': expected one of reject, mnas"):
        hypermodel(pipeline, 1.0, constraint="soft")
    with pytest.raises(ValueError, match="tuner 'grid': expected one of random"):
        make_tuner("grid", hypermodel(pipeline, 1.0), 1, "/tmp")
