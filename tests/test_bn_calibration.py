"""Re-estimated batch-norm statistics: what they are, and that evaluation stops depending on
the order and class mix of the batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfnas.datasets.pipeline import Pipeline, eval_transform
from tfnas.datasets.sources import DataSource
from tfnas.engine.bn_calibration import accuracy_of, batch_norm_layers, recalibrate_batch_norm
from tfnas.nets.builder import build_net
from tfnas.nets.load import load_net
from tfnas.nets.spaces import demo
from tfnas.records import SearchSummary, load
from tfnas.search import outputs
from tfnas.search.config import resolve
from tfnas.search.runner import SearchRun


def test_moving_statistics_become_the_mean_of_the_batch_statistics():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.BatchNormalization(momentum=0.99)(inputs))
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc, 2.0, (8, 3)).astype("float32") for loc in (0.0, 5.0, -1.0)]
    assert recalibrate_batch_norm(model, batches) == 24
    (layer,) = batch_norm_layers(model)
    means = np.mean([b.mean(axis=0) for b in batches], axis=0)
    variances = np.mean([b.var(axis=0) for b in batches], axis=0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), variances, rtol=1e-5)
    assert layer.momentum == 0.99  # put back
    with pytest.raises(ValueError, match="no images"):
        recalibrate_batch_norm(model, [])


def brightness_source(train=2000, test=500, classes=4, seed=0):
    """Images whose brightness is their class: learned in a few steps, and exactly what
    per-batch statistics of one-class batches normalize away."""
    rng = np.random.default_rng(seed)

    def split(count):
        labels = np.arange(count) % classes
        images = 40 + 50 * labels[:, None, None, None] + rng.normal(0, 12, (count, 32, 32, 3))
        return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)

    (images, labels), (test_images, test_labels) = split(train), split(test)
    return DataSource(
        name="brightness",
        num_classes=classes,
        train=tf.data.Dataset.from_tensor_slices((images, labels)),
        train_labels=labels,
        test=tf.data.Dataset.from_tensor_slices((test_images, test_labels)),
        test_size=test,
        fixed_resolution=32,
    )


def _sorted_and_shuffled(pipeline):
    images, labels = [], []
    for image, label in pipeline.source.test.map(
        lambda x, y: (eval_transform(x, pipeline.resolution), y)
    ).as_numpy_iterator():
        images.append(image)
        labels.append(label)
    images, labels = np.stack(images), np.array(labels)
    order = np.argsort(labels, kind="stable")  # one class per batch, as an ImageFolder split
    shuffled = np.random.default_rng(0).permutation(len(labels))

    def batches(index):
        return tf.data.Dataset.from_tensor_slices((images[index], labels[index])).batch(50)

    return batches(order), batches(shuffled)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A short search on the brightness data (the network need not have learned much)."""
    config = resolve(
        "demo",
        warmup_epochs=1,
        epochs=1,
        steps_per_epoch=20,
        arch_start_epoch=0,
        valid_size=200,
        bn_calibration_images=300,
    )
    keras.utils.set_random_seed(0)
    pipeline = Pipeline(
        brightness_source(),
        32,
        batch_size=64,
        valid_batch_size=50,
        valid_size=200,
        augment="none",
        seed=0,
    )
    scratch = tmp_path_factory.mktemp("search")
    run = SearchRun(config, pipeline, scratch, verbose=0)
    run.run()
    return run, pipeline, scratch


def test_the_searchs_accuracy_is_the_same_on_class_sorted_and_shuffled_batches(searched):
    run, pipeline, _ = searched
    choices = [0] * len(run.space.choice_blocks)
    sorted_batches, shuffled_batches = _sorted_and_shuffled(pipeline)
    model = run.derived_model(choices)
    on_sorted = run.evaluate(sorted_batches, choices, model)
    on_shuffled = run.evaluate(shuffled_batches, choices, model)
    assert on_sorted == pytest.approx(on_shuffled, abs=1 / 500)  # one image of 500 at most


def test_recalibrated_statistics_keep_what_one_class_batches_erase():
    """A plain network that learned the brightness task: evaluated with each batch's own
    statistics (what the search reported until 2026-12-03) it falls to chance on
    one-class batches; with re-estimated statistics it does not care."""
    pipeline = Pipeline(
        brightness_source(),
        32,
        batch_size=50,
        valid_batch_size=50,
        valid_size=0,
        augment="none",
        seed=0,
    )
    keras.utils.set_random_seed(0)
    model = build_net(demo().select([0] * 6))
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(
        pipeline.train_epoch(0).repeat(), steps_per_epoch=40, epochs=2, shuffle=False, verbose=0
    )
    recalibrate_batch_norm(model, pipeline.calibration_batches(300))
    sorted_batches, shuffled_batches = _sorted_and_shuffled(pipeline)
    on_sorted, on_shuffled = (
        accuracy_of(model, sorted_batches),
        accuracy_of(model, shuffled_batches),
    )
    assert on_shuffled > 0.9 and on_sorted == pytest.approx(on_shuffled, abs=1 / 500)

    def with_batch_statistics(batches):
        right = total = 0
        for images, labels in batches:
            predictions = np.argmax(model(images, training=True), axis=-1)
            right += int(np.sum(predictions == labels.numpy()))
            total += len(labels)
        return right / total

    assert with_batch_statistics(sorted_batches) < 0.5  # 4 classes: near chance


def test_the_written_weights_rebuild_the_network_the_search_reported_on(searched):
    _, pipeline, scratch = searched
    summary = load(SearchSummary, f"{scratch}/{outputs.SUMMARY_FILE}")
    model = build_net(load_net(f"{scratch}/{outputs.ARCH_FILE}"))
    model.load_weights(f"{scratch}/{outputs.DERIVED_WEIGHTS_FILE}")
    accuracy = accuracy_of(model, pipeline.valid_batches())
    # The same weights on the same images: equal, up to one image of 200 whose
    # top two logits a different kernel could order differently.
    assert accuracy == pytest.approx(summary.valid_accuracy, abs=1 / 200)
