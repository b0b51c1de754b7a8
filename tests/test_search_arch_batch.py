"""The batch the search's arch steps run on: the training batch (the reference), or
`--arch_batch_size`, whatever the evaluation batch is."""

import keras
import pytest

from tfnas.datasets.pipeline import Pipeline
from tfnas.datasets.sources import demo_source
from tfnas.search.config import resolve
from tfnas.search.runner import SearchRun


@pytest.mark.parametrize(("arch_batch_size", "expected"), [(0, 32), (40, 40)])
def test_the_arch_steps_run_on_the_batch_the_config_names(tmp_path, arch_batch_size, expected):
    config = resolve(
        "demo",
        warmup_epochs=0,
        epochs=1,
        steps_per_epoch=4,
        arch_start_epoch=0,
        arch_update_every=2,
        batch_size=32,
        eval_batch_size=50,
        arch_batch_size=arch_batch_size,
        valid_size=200,
    )
    keras.utils.set_random_seed(0)
    pipeline = Pipeline(
        demo_source(),
        32,
        batch_size=32,
        valid_batch_size=50,
        valid_size=200,
        augment="none",
        seed=0,
    )
    run = SearchRun(config, pipeline, tmp_path, verbose=0, log=lambda _: None)
    seen = []
    arch_step = run.steps.arch_step

    def recording(images, labels, seed):
        seen.append(int(images.shape[0]))
        return arch_step(images, labels, seed)

    run.steps.arch_step = recording
    run.run()
    assert seen == [expected, expected]  # 4 steps, one arch step every 2
    assert run.arch_images == 2 * expected
