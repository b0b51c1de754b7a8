"""CheckpointKeeper: state.json names a complete checkpoint; restore checks what it reads."""

import json

import pytest
import tensorflow as tf

from tfnas.engine.checkpoints import CheckpointKeeper, random_states


def _keeper(directory, shape=(3,), fmt="test.state"):
    weights = tf.Variable(tf.zeros(shape))
    step = tf.Variable(0, dtype=tf.int64)
    return CheckpointKeeper(directory, tf.train.Checkpoint(w=weights, step=step), fmt), weights


def test_save_then_restore_round_trips_variables_and_extra_state(tmp_path):
    keeper, weights = _keeper(tmp_path)
    assert keeper.restore() is None  # nothing yet
    weights.assign([1.0, 2.0, 3.0])
    keeper.save(5, {"history": [{"epoch": 1}]})
    weights.assign([7.0, 7.0, 7.0])
    keeper.save(9, {"history": [{"epoch": 1}, {"epoch": 2}]})
    assert sorted(p.name.split(".")[0] for p in tmp_path.glob("step-*")) == ["step-00000009"] * 2
    fresh, fresh_weights = _keeper(tmp_path)
    state = fresh.restore()
    assert state["step"] == 9 and len(state["history"]) == 2
    assert fresh_weights.numpy().tolist() == [7.0, 7.0, 7.0]


def test_state_keeps_naming_the_last_complete_checkpoint(tmp_path):
    keeper, weights = _keeper(tmp_path)
    weights.assign([1.0, 2.0, 3.0])
    keeper.save(5, {})
    # A run killed after writing the next checkpoint's files but before state.json.
    keeper.checkpoint.write(str(tmp_path / "step-00000008"))
    fresh, fresh_weights = _keeper(tmp_path)
    assert fresh.restore()["step"] == 5
    assert fresh_weights.numpy().tolist() == [1.0, 2.0, 3.0]


def test_restore_refuses_another_kind_of_run_or_another_shape(tmp_path):
    keeper, _ = _keeper(tmp_path)
    keeper.save(1, {})
    with pytest.raises(ValueError, match="is a 'test.state' checkpoint, not 'other'"):
        _keeper(tmp_path, fmt="other")[0].restore()
    with pytest.raises(ValueError, match="does not match this run"):
        _keeper(tmp_path, shape=(4,))[0].restore()
    assert json.loads((tmp_path / "state.json").read_text())["checkpoint"] == "step-00000001"


def test_dropout_masks_continue_after_a_restore(tmp_path):
    import keras

    def model():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((64,)), keras.layers.Dropout(0.5)])

    def masks(net, count):
        return [net(tf.ones((1, 64)), training=True).numpy() for _ in range(count)]

    whole = masks(model(), 4)
    first = model()
    masks(first, 2)
    keeper = CheckpointKeeper(
        tmp_path, tf.train.Checkpoint(random_states=random_states(first)), "test.state"
    )
    keeper.save(2, {})
    second = model()
    CheckpointKeeper(
        tmp_path, tf.train.Checkpoint(random_states=random_states(second)), "test.state"
    ).restore()
    resumed = masks(second, 2)
    assert (resumed[0] == whole[2]).all() and (resumed[1] == whole[3]).all()
