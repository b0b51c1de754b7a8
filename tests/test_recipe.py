"""The shared recipe: each job's schedule, the SGD it builds, the loss, the Keras callback."""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnas.config.groups import RecipeConfig
from tfnas.config.tree import ConfigError
from tfnas.engine.losses import cross_entropy
from tfnas.engine.recipe import Recipe
from tfnas.search.config import resolve as resolve_search
from tfnas.train.config import resolve as resolve_train


def test_training_warms_up_linearly_then_follows_a_cosine():
    config = resolve_train(
        "demo", arch="mobilenet_v2", epochs=4, warmup_epochs=1, learning_rate=0.2
    )
    recipe = Recipe(config.recipe, 10, "linear_warmup_cosine")
    rates = [recipe.learning_rate(step) for step in range(40)]
    assert rates[0] == pytest.approx(0.02) and rates[9] == pytest.approx(0.2)
    assert rates[10] == pytest.approx(0.2) and rates[25] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))
    assert recipe.total_epochs == 4 and recipe.total_steps == 40


def test_the_search_runs_a_cosine_over_the_warmup_then_restarts_it():
    config = resolve_search("demo", warmup_epochs=2, epochs=4, learning_rate=0.1)
    recipe = Recipe(config.recipe, 10, "cosine_restart")

    def lr(step):
        return recipe.learning_rate(step)

    assert lr(0) == pytest.approx(0.1)
    assert lr(10) == pytest.approx(0.05)  # half-way through the warmup
    assert lr(20) == pytest.approx(0.1)  # the search starts at the full rate again
    assert lr(40) == pytest.approx(0.05)
    assert lr(59) == pytest.approx(0.05 * (1 + math.cos(math.pi * 39 / 40)))
    assert recipe.total_epochs == config.total_epochs == 6


def test_the_searchs_warmup_has_its_own_peak_as_the_reference():
    config = resolve_search("imagenet", warmup_epochs=2, epochs=4)
    recipe = Recipe(config.recipe, 10, "cosine_restart")
    assert recipe.learning_rate(0) == pytest.approx(0.05)  # warm_up's lr_max
    assert recipe.learning_rate(10) == pytest.approx(0.025)  # half of 0.05
    assert recipe.learning_rate(20) == pytest.approx(0.025)  # the search's init_lr


def test_training_refuses_the_searchs_warmup_peak():
    with pytest.raises(ConfigError, match="--warmup_learning_rate=0.05: expected none"):
        resolve_train("demo", arch="x", warmup_learning_rate=0.05)


def test_tuner_trials_keep_a_constant_rate():
    recipe = Recipe(RecipeConfig(learning_rate=0.03), 5, "constant")
    assert {recipe.learning_rate(step) for step in (0, 7, 10_000)} == {0.03}


def test_bad_schedules_and_step_counts_are_named():
    with pytest.raises(ValueError, match="schedule 'step'"):
        Recipe(RecipeConfig(), 10, "step")
    with pytest.raises(ValueError, match="steps per epoch 0"):
        Recipe(RecipeConfig(), 0)


def test_sgd_decays_kernels_only_with_the_recipes_momentum():
    recipe = Recipe(RecipeConfig(momentum=0.8, nesterov=False, weight_decay=0.5), 10)
    kernel = tf.Variable(np.ones((2, 2), np.float32), name="kernel")
    bias = tf.Variable(np.ones(2, np.float32), name="bias")
    optimizer = recipe.sgd([kernel, bias])
    assert optimizer.momentum == pytest.approx(0.8) and not optimizer.nesterov
    zero = [tf.zeros_like(kernel), tf.zeros_like(bias)]
    optimizer.apply(zero, [kernel, bias])
    # With a zero gradient only the decay moves a variable: lr x decay x value.
    lr = recipe.learning_rate(0)
    np.testing.assert_allclose(kernel.numpy(), 1 - lr * 0.5, rtol=1e-6)
    np.testing.assert_allclose(bias.numpy(), 1.0)


def test_loss_is_the_mean_smoothed_cross_entropy():
    recipe = Recipe(RecipeConfig(label_smoothing=0.2), 10)
    labels = tf.constant([0, 2])
    logits = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.1, 3.0]])
    expected = tf.reduce_mean(cross_entropy(labels, logits, 0.2))
    assert float(recipe.loss(labels, logits)) == pytest.approx(float(expected))
    assert float(recipe.loss(labels, logits)) > float(tf.reduce_mean(cross_entropy(labels, logits)))


def test_schedule_callback_sets_each_batchs_rate_in_fit():
    recipe = Recipe(RecipeConfig(epochs=2, warmup_epochs=1, learning_rate=0.1), 4)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(recipe.sgd(), loss=recipe.loss)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    images = np.zeros((16, 3), np.float32)
    labels = np.zeros(16, np.int32)
    callbacks = [recipe.schedule_callback(), Record()]
    model.fit(images, labels, batch_size=4, epochs=2, verbose=0, callbacks=callbacks)
    wanted = [recipe.learning_rate(step) for step in range(8)]
    np.testing.assert_allclose(seen, wanted, rtol=1e-6)  # float32 of the rate


@pytest.mark.parametrize("keras_module", ["keras", "tf_keras"])
def test_fit_compiles_with_xla_as_the_recipe_says_not_as_keras_guesses(keras_module, monkeypatch):
    # Keras 3's default ("auto") would turn XLA on wherever a GPU is visible;
    # the recipe's choice has to reach `compile` as an explicit value.
    import importlib

    module = importlib.import_module(keras_module)
    recipe = Recipe(RecipeConfig(learning_rate=0.05), steps_per_epoch=10)
    seen = {}

    class Model:
        def compile(self, optimizer, **options):
            seen.update(options, optimizer=optimizer)

    recipe.compile(Model(), module)
    assert seen["jit_compile"] is False
    assert isinstance(seen["optimizer"], module.optimizers.SGD)
    assert seen["loss"] == recipe.loss and seen["metrics"] == ["accuracy"]
    monkeypatch.setattr("tfnas.engine.recipe.JIT_COMPILE", True)
    recipe.compile(Model(), module)
    assert seen["jit_compile"] is True
