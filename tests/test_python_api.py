"""The Python API: `tfnas.search` and `tfnas.train` on data in hand (docs/python-api.md)."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from commands import QUIET, REPO_ROOT

import tfnas
from tfnas.config.tree import ConfigError
from tfnas.datasets.in_memory import as_arrays, in_memory_source
from tfnas.datasets.pipeline import Pipeline
from tfnas.datasets.sources import IN_MEMORY, load_source
from tfnas.engine.api import fitted_batches, run_api_job
from tfnas.engine.progress import is_terminal
from tfnas.errors import DataError
from tfnas.nets.registry import NETS
from tfnas.search.job import SEARCH
from tfnas.train.api import GIVEN_ARCH_FILE

DOC = REPO_ROOT / "docs" / "python-api.md"

# Run after the page's examples, in the same script: what they must have produced.
CHECKS = """
from pathlib import Path

import keras
from tfnas.datasets.pipeline import normalize
from tfnas.nets.spec import NetSpec
from tfnas.nets.spec_json import load_spec

assert not Path.cwd().resolve().is_relative_to(Path(REPO).resolve()), Path.cwd()
assert isinstance(result.net, NetSpec)
assert result.net == load_spec(result.arch_file)
assert isinstance(trained.model, keras.Model)
assert probabilities.shape == (8, 2), probabilities.shape
assert Path("runs/toy-train/model.weights.h5").is_file()
assert by_name.summary.dataset == "demo" and by_name.summary.test_examples == 1000
# The model takes the images as given (floats in [0, 1]) and normalizes them as
# training did: the same as the bare network on the pipeline's normalization.
# Float32 through two orders of the same affine map: relative differences of
# a few ulps, so 1e-4 is loose and still catches a wrong scale (255x).
logits = trained.network(normalize(tf.constant(x[:8] * 255.0)), training=False)
expected = tf.nn.softmax(logits).numpy()
np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)
print("API-CHECKS-PASSED")
"""


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a page, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_pages_examples_run_from_outside_the_repository(tmp_path):
    """Issue 34's toy problem: search on 256 32x32x3 float images, then train 1 epoch."""
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 2, "the page lost its examples"
    script = "\n".join(
        ["import tensorflow as tf", f"REPO = {str(REPO_ROOT)!r}", *blocks, textwrap.dedent(CHECKS)]
    )
    (tmp_path / "example.py").write_text(script)
    # Not installed: the repository is on the path, as a checkout used from a notebook.
    env = QUIET | {"PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard, far beyond the ~1 minute it takes
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "API-CHECKS-PASSED" in result.stdout
    assert "searching demo" in result.stdout and "training demo_searched" in result.stdout


def test_the_jobs_are_functions_and_still_packages():
    assert callable(tfnas.search) and callable(tfnas.train)
    from tfnas.search import config  # the package still has its modules

    assert config.CONFIG_FORMAT == "tfnas.search_config"
    with pytest.raises(AttributeError, match="no attribute 'serach'"):
        tfnas.serach  # noqa: B018


def test_uint8_float_and_grayscale_images_become_0_to_255():
    labels = np.array([0, 1, 1, 0])
    raw = np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3)
    images, got_labels, scale = as_arrays((raw, labels), "data")
    assert images.dtype == np.float32 and scale == 1.0
    np.testing.assert_array_equal(images, raw)
    np.testing.assert_array_equal(got_labels, labels)
    floats, _, scale = as_arrays((raw / 255.0, labels[:, None]), "data")
    assert scale == 255.0
    np.testing.assert_allclose(floats, raw, rtol=1e-6)  # x/255*255 in float32
    gray, _, _ = as_arrays((raw[..., 0], labels), "data")
    assert gray.shape == (4, 2, 2, 1)


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.full((2, 4, 4, 3), 200.0), [0, 1], r"float images range over \[200, 200\]; expected"),
        (
            np.zeros((2, 4, 4, 2)),
            [0, 1],
            r"shape \(2, 4, 4, 2\); expected \(N, H, W, C\)",
        ),
        (np.zeros((2, 4, 4, 3)), [[1, 0], [0, 1]], r"one-hot labels: take argmax"),
        (np.zeros((2, 4, 4, 3)), [0.0, 1.0], r"labels of shape \(2,\) and dtype float64"),
        (np.zeros((2, 4, 4, 3)), [0, -1], r"a label of -1; expected classes 0..K-1"),
    ],
)
def test_bad_arrays_are_refused_with_what_was_expected(images, labels, message):
    with pytest.raises(DataError, match=message):
        as_arrays((images, np.asarray(labels)), "data")


def test_a_dataset_of_elements_or_batches_reads_as_the_arrays():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 4, 4, 3)).astype(np.uint8)
    labels = rng.integers(0, 3, 10)
    pair = as_arrays((images, labels), "data")
    elements = tf.data.Dataset.from_tensor_slices((images, labels))
    for dataset in (elements, elements.batch(4)):
        got = as_arrays(dataset, "data")
        np.testing.assert_array_equal(got[0], pair[0])
        np.testing.assert_array_equal(got[1], pair[1])


def test_validation_data_are_the_held_out_split_and_test_data_the_test_split():
    rng = np.random.default_rng(2)

    def split(n):
        return rng.integers(0, 256, (n, 8, 8, 3)).astype(np.uint8), rng.integers(0, 2, n)

    train, valid, test = split(20), split(6), split(5)
    data = in_memory_source(train, test=test, validation=valid)
    assert (data.valid_count, data.source.test_size, data.source.channels) == (6, 5, 3)
    pipeline = Pipeline(data.source, 8, 4, 2, data.valid_count, "none", 0, valid_at_end=True)
    np.testing.assert_array_equal(pipeline.train_indices, np.arange(20))
    np.testing.assert_array_equal(pipeline.valid_indices, np.arange(20, 26))
    held_out = np.concatenate([labels for _, labels in pipeline.valid_batches()])
    np.testing.assert_array_equal(held_out, valid[1])
    with pytest.raises(DataError, match=r"validation_data: images of shape \(4, 4, 3\)"):
        in_memory_source(train, validation=(valid[0][:, :4, :4], valid[1]))


def test_a_run_of_data_in_hand_cannot_be_loaded_by_name():
    with pytest.raises(DataError, match="given in memory to tfnas.search or tfnas.train"):
        load_source(IN_MEMORY)


def test_held_out_batches_shrink_to_a_small_valid_split_unless_given():
    fitted = fitted_batches(SEARCH, "demo", {"valid_size": 64})
    assert fitted == {"eval_batch_size": 64, "arch_batch_size": 64, "rl_batch_size": 64}
    assert "eval_batch_size" not in fitted_batches(
        SEARCH, "demo", {"valid_size": 64, "valid_batch_size": 32}
    )
    assert fitted_batches(SEARCH, "demo", {"valid_size": 5000}) == {}


def test_a_named_dataset_takes_no_separate_splits(tmp_path):
    with pytest.raises(ConfigError, match="validation_data and test_data go with data in hand"):
        run_api_job(SEARCH, "demo", tmp_path, {}, validation_data=(np.zeros((2, 4, 4, 3)), [0, 1]))


def test_a_network_given_as_a_spec_never_overwrites_another_runs_folder(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "state.json").write_text("{}")
    with pytest.raises(ConfigError, match="already holds a train run; pass --resume"):
        tfnas.train(NETS.get("mobilenet_v2"), "demo", output_dir=tmp_path)
    assert not (tmp_path / GIVEN_ARCH_FILE).exists()


def test_a_notebooks_output_counts_as_a_terminal():
    class OutStream:  # what ipykernel puts in sys.stdout: no tty, but it redraws lines
        def isatty(self):
            return False

    assert not is_terminal(OutStream())
    OutStream.__module__ = "ipykernel.iostream"
    assert is_terminal(OutStream())
