"""`tfnas.engine.divergence`: when a loss diverged, what the error says, the Keras hook."""

import math

import keras
import numpy as np
import pytest

from tfnas.engine.divergence import FACTOR, WINDOW, DivergenceError, LossGuard, keras_callback

CHANCE_10 = math.log(10)


def guard(**kwargs) -> LossGuard:
    return LossGuard("training net", "lower --learning_rate (now 0.1)", 10, **kwargs)


def feed(g: LossGuard, losses, first_step: int = 0) -> None:
    for step, loss in enumerate(losses, first_step):
        g.observe(step, loss, "epoch 1")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_at_once_naming_the_step_and_the_flag(bad):
    g = guard()
    feed(g, [2.5, 2.4])
    with pytest.raises(DivergenceError) as error:
        g.observe(2, bad, "epoch 1")
    message = str(error.value)
    assert message.startswith("training net diverged: the loss is")
    assert "at step 3 (epoch 1)" in message and "lower --learning_rate (now 0.1)" in message
    assert "no checkpoint was written before it" in message


def test_a_loss_that_stays_above_the_threshold_stops_the_run_once_the_window_is_full():
    g = guard()
    start = [2.6, 2.5, 2.7, 2.5, 2.6]
    feed(g, start)
    assert g.start == start[0]  # the first step's loss, on the initial weights
    high = FACTOR * start[0] * 1.2
    steps_to_fill = WINDOW - len(start)
    feed(g, [high] * (steps_to_fill - 1), first_step=len(start))  # mean still under
    with pytest.raises(DivergenceError, match=rf"over the {WINDOW} steps to step {WINDOW} "):
        g.observe(WINDOW - 1, high, "epoch 1")


def test_single_spikes_and_a_loss_near_its_start_are_not_divergence():
    g = guard()
    losses = [2.6] * 5 + [2.5, 9.0, 2.4, 2.3, 8.0] + [2.2] * 40  # two one-step spikes
    feed(g, losses)
    window_means = [np.mean(losses[i - WINDOW : i]) for i in range(WINDOW, len(losses) + 1)]
    assert g.peak_ratio == pytest.approx(max(window_means) / g.start)  # start 2.6 > chance
    assert g.peak_ratio < FACTOR


def test_a_run_that_starts_trained_is_compared_with_chance_not_its_low_start():
    # QAT fine-tuning starts near 0.5: rising to chance level is bad, but not divergence.
    g = guard()
    feed(g, [0.5] * 5 + [CHANCE_10] * 30)
    assert g.threshold == pytest.approx(FACTOR * CHANCE_10)
    with pytest.raises(DivergenceError, match=r"chance 2\.3"):
        feed(g, [FACTOR * CHANCE_10 * 1.5] * WINDOW, first_step=35)


def test_the_error_names_the_last_good_checkpoint_or_says_there_is_none_to_resume():
    g = guard()
    g.saved("step 40, runs/x/checkpoints")
    with pytest.raises(
        DivergenceError, match=r"last good checkpoint \(step 40, runs/x/checkpoints\)"
    ):
        g.observe(41, float("nan"))
    quiet = guard(resumable=False)
    with pytest.raises(DivergenceError) as error:
        quiet.observe(0, float("nan"))
    assert "checkpoint" not in str(error.value)


def test_the_state_lets_a_resumed_run_watch_as_if_never_stopped():
    g = guard()
    feed(g, [2.5] * 5 + [3.5] * 10)
    resumed = guard()
    resumed.restore(g.state())
    assert (resumed.start, resumed.peak_ratio) == (g.start, g.peak_ratio)
    # The window carries over: both stop at the same step, the 20th.
    high = FACTOR * 2.5 * 1.5
    for run in (g, resumed):
        with pytest.raises(DivergenceError, match=f"to step {WINDOW} "):
            feed(run, [high] * 5, first_step=15)
    fresh = guard()
    fresh.restore(None)  # a checkpoint written before guards existed
    assert fresh.start is None and fresh.peak_ratio == 0.0


def test_weights_with_a_nan_are_refused_naming_the_variable():
    g = guard()
    good = keras.Variable(np.ones(3, np.float32), name="kernel")
    bad = keras.Variable(np.array([1.0, np.inf, 0.0], np.float32), name="broken")
    g.check_weights([good], step=7)
    with pytest.raises(DivergenceError, match="the weights of broken are not finite after step 7"):
        g.check_weights([good, bad], step=7)


def test_arch_losses_are_checked_for_nan_with_their_own_advice():
    g = guard()
    g.require_finite(0.7, "the arch step's loss", 3, "lower --arch_learning_rate (now 0.1)")
    with pytest.raises(DivergenceError, match=r"arch step's loss is nan at step 4; lower --arch"):
        g.require_finite(
            float("nan"), "the arch step's loss", 3, "lower --arch_learning_rate (now 0.1)"
        )


def test_the_keras_callback_recovers_each_batch_loss_from_fits_running_mean():
    g = guard()
    callback = keras_callback(g)
    batch_losses = [2.6, 2.4, 2.8, 2.2, 2.5, 2.3, 2.1]
    callback.on_epoch_begin(0)
    for batch, _ in enumerate(batch_losses):
        running = float(np.mean(batch_losses[: batch + 1]))
        callback.on_train_batch_end(batch, {"loss": running})
    assert g.start == pytest.approx(batch_losses[0], rel=1e-6)
    assert g.recent_mean() == pytest.approx(np.mean(batch_losses), rel=1e-6)
    assert callback.step == len(batch_losses)


def test_fit_with_an_absurd_learning_rate_raises_from_the_callback():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(10)])
    model.compile(keras.optimizers.SGD(1e8), keras.losses.SparseCategoricalCrossentropy(True))
    x = np.random.default_rng(0).normal(size=(512, 8)).astype(np.float32)
    y = np.arange(512) % 10
    with pytest.raises(DivergenceError, match="training net diverged"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[keras_callback(guard())])


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="factor=1"):
        LossGuard("x", "y", 10, factor=1.0)


def test_no_checkpoint_and_no_model_while_the_recent_losses_are_over_the_threshold():
    g = guard()
    assert g.healthy()  # nothing seen yet
    feed(g, [2.5] * 5)
    assert g.healthy()
    feed(g, [12.0] * 3, first_step=5)  # far fewer steps than a window: no error yet
    assert not g.healthy()
    with pytest.raises(DivergenceError, match=r"averaged 6\.06 over its last 8 steps to the end"):
        g.check_end(8)
    feed(g, [2.0] * 40, first_step=8)  # recovered: the full window stayed under 3.75
    assert g.healthy()
    g.check_end(48)
