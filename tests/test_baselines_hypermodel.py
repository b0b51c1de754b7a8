"""The keras-tuner HyperModel over the search space: every config builds and is scored,
the latency constraint, and failing trials reported as errors."""

import keras_tuner as kt
import numpy as np
import pytest

from tfnas.baselines.hypermodel import (
    ImageBudget,
    SpaceHyperModel,
    TrialFailedError,
    make_tuner,
    run_tuner,
)
from tfnas.config.groups import RecipeConfig
from tfnas.datasets.pipeline import Pipeline
from tfnas.datasets.sources import demo_source
from tfnas.latency.model import net_latency, space_latency
from tfnas.latency.objectives import latency_reward
from tfnas.latency.targets import load_target
from tfnas.nets.spaces import demo
from tfnas.nets.spec import choice_name


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


def hypermodel(pipeline, target, constraint="reject", train=None, kind=SpaceHyperModel, **options):
    space = demo()
    return kind(
        space,
        space_latency(load_target("mobile"), space),
        target,
        train or (lambda: pipeline.train_epoch(0)),
        pipeline.valid_batches,
        steps=2,
        batch_size=32,
        constraint=constraint,
        **options,
    )


def random_hp(model, rng):
    hp = kt.HyperParameters()
    model.choices(hp)  # declares the hyperparameters
    for index, block in enumerate(model.space.choice_blocks):
        hp.values[choice_name(index)] = int(rng.integers(len(block.candidates)))
    return hp


def test_every_sampled_config_builds_a_network_the_latency_model_scores(pipeline):
    model = hypermodel(pipeline, 1e3)
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
    stand_in = model.build(hp)
    assert stand_in.name == "rejected" and stand_in.count_params() == 2  # not the network
    result = model.fit(hp, stand_in)
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
    assert len(rows) == 2 and rows[0].score >= rows[1].score
    assert len(rows[0].choices) == len(demo().choice_blocks)


def test_a_failing_trial_is_an_error_not_an_empty_result(pipeline, tmp_path):
    class Broken(SpaceHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            raise ValueError("the trial broke")

    model = hypermodel(pipeline, 1e3, kind=Broken)
    tuner = make_tuner("random", model, max_trials=2, directory=tmp_path)
    with pytest.raises(TrialFailedError, match="the trial broke"):
        run_tuner(tuner)


def test_the_image_budget_grants_whole_steps_until_it_is_spent():
    budget = ImageBudget(100)
    assert budget.grant_steps(2, 32) == 2 and budget.spent == 64
    assert not budget.exhausted(32)
    assert budget.grant_steps(5, 32) == 1 and budget.spent == 96  # 4 images left: no step
    assert budget.grant_steps(1, 32) == 0 and budget.spent == 96
    assert budget.exhausted(32) and not budget.exhausted(4)
    with pytest.raises(ValueError, match="image budget 0: expected an integer >= 1"):
        ImageBudget(0)


def test_a_budgeted_random_search_stops_when_its_images_are_spent(pipeline, tmp_path):
    # Two full trials of 2 steps, then one of 1 step; the 20 images left pay for no step.
    budget = ImageBudget(5 * 32 + 20)
    model = hypermodel(pipeline, 1e3, budget=budget)
    rows = run_tuner(make_tuner("random", model, max_trials=50, directory=tmp_path))
    assert sorted(row.trained_steps for row in rows) == [1, 2, 2]
    assert sum(row.trained_images for row in rows) == budget.spent == 5 * 32


def test_hyperband_continues_a_promoted_trial_from_its_weights_within_the_budget(
    pipeline, tmp_path
):
    # Hyperband (3 epochs, factor 3) first trains 3 trials for 1 epoch (1 step
    # each here), then promotes the best to 3 epochs: 2 more steps from its
    # saved weights. The budget ends there.
    budget = ImageBudget(5 * 32)
    model = hypermodel(pipeline, 1e3, budget=budget)
    model.steps = 1
    tuner = make_tuner("hyperband", model, max_trials=50, directory=tmp_path, hyperband_epochs=3)
    rows = run_tuner(tuner)
    promoted = [
        t for t in tuner.oracle.trials.values() if "tuner/trial_id" in t.hyperparameters.values
    ]
    assert len(rows) == 4 and len(promoted) == 1
    assert promoted[0].metrics.get_last_value("trained_steps") == 2
    assert budget.spent == budget.limit


def test_bad_settings_are_named(pipeline):
    with pytest.raises(
        ValueError, match="constraint 'soft': expected one of reject, proxyless, mnas"
    ):
        hypermodel(pipeline, 1.0, constraint="soft")
    with pytest.raises(ValueError, match="tuner 'grid': expected one of random"):
        make_tuner("grid", hypermodel(pipeline, 1.0), 1, "/tmp")
    with pytest.raises(ValueError, match="hyperband epochs 1: expected an integer >= 2"):
        make_tuner("hyperband", hypermodel(pipeline, 1.0), 1, "/tmp", hyperband_epochs=1)


def test_a_trial_that_diverges_stops_at_once_scores_0_and_gives_back_its_untrained_steps(
    pipeline,
):
    lines: list[str] = []
    budget = ImageBudget(10_000)
    recipe = RecipeConfig(learning_rate=1e8)
    model = hypermodel(pipeline, 1e3, recipe=recipe, budget=budget, log=lines.append)
    model.steps = 60  # enough steps for the guard's 20-step window
    hp = random_hp(model, np.random.default_rng(3))
    result = model.fit(hp, model.build(hp))
    assert result["diverged"] == 1.0 and result["score"] == 0.0
    assert 1 <= result["trained_steps"] < 60
    assert budget.spent == result["trained_steps"] * 32  # the rest went back to the budget
    assert "a trial's training diverged" in lines[-1] and "--learning_rate (now 1e+08)" in lines[-1]


def test_trials_train_with_the_searchs_recipe_at_a_constant_rate(pipeline):
    recipe = RecipeConfig(learning_rate=0.03, momentum=0.8, weight_decay=1e-4, label_smoothing=0.1)
    model = hypermodel(pipeline, 1e3, recipe=recipe)
    hp = random_hp(model, np.random.default_rng(0))
    network = model.build(hp)
    optimizer = network.optimizer
    assert float(optimizer.learning_rate) == pytest.approx(0.03)
    assert optimizer.momentum == pytest.approx(0.8) and optimizer.weight_decay == pytest.approx(
        1e-4
    )
    assert model.recipe.learning_rate(10**6) == 0.03  # no schedule: trial lengths vary
    assert network.loss == model.recipe.loss  # label smoothing as the search's weight steps
    assert network.jit_compile is False  # tfnas.engine.recipe.JIT_COMPILE, on a GPU too
