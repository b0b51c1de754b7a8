"""Search configs: named experiments, overrides, checks that name the field, round trips."""

import dataclasses

import pytest

from tfnas.config import tree as config_tree
from tfnas.search import config as search_config
from tfnas.search.config import ConfigError, SearchConfig, resolve
from tfnas.search.job import SEARCH


def test_imagenet_defaults_are_the_papers_recipe():
    config = resolve("imagenet")
    recipe, arch, latency = config.recipe, config.arch_search, config.latency
    assert (recipe.warmup_epochs, recipe.epochs, config.data.batch_size) == (40, 120, 256)
    assert (recipe.learning_rate, recipe.weight_decay, recipe.label_smoothing) == (0.025, 4e-5, 0.1)
    assert (arch.arch_learning_rate, arch.arch_beta1, arch.arch_update_every) == (1e-3, 0, 5)
    assert (latency.target, latency.target_latency, latency.loss) == ("mobile", 80.0, "mul_log")
    assert arch.arch_start_epoch == 1


def test_imagenet_matches_the_reference_codes_details():
    """search/imagenet_arch_search.py, nas_manager.py and data_providers/imagenet.py."""
    config = resolve("imagenet")
    data, recipe, arch = config.data, config.recipe, config.arch_search
    assert data.valid_size == 50_000
    assert recipe.warmup_learning_rate == 0.05  # warm_up's lr_max
    assert (data.jitter_brightness, data.jitter_saturation) == (32 / 255, 0.5)
    assert recipe.init == "he_fout"
    assert (arch.arch_epsilon, arch.arch_beta1, arch.arch_beta2) == (1e-8, 0.0, 0.999)
    rl = (arch.rl_samples, arch.rl_batch_size, arch.rl_updates_per_epoch)
    assert rl == (10, 1000, 300)
    assert (arch.rl_baseline, arch.rl_baseline_weight) == ("reference", 0.99)
    assert config.latency.reward == "proxyless"


def test_arch_steps_run_on_the_training_batch_as_the_reference_unless_told():
    # nas_manager.py: grad_data_batch=None sets the valid loader's batch to
    # the training batch; the evaluations keep their own batch.
    for experiment in ("imagenet", "cifar10", "fashion_mnist"):
        assert resolve(experiment).arch_search.arch_batch_size == 0
    assert resolve("fashion_mnist").data.eval_batch_size == 250
    assert resolve("demo").arch_search.arch_batch_size == 100  # its documented searches
    assert resolve("fashion_mnist", arch_batch_size=64).arch_search.arch_batch_size == 64
    with pytest.raises(ConfigError, match="--arch_batch_size=-1: expected an integer >= 0"):
        resolve("demo", arch_batch_size=-1)


@pytest.mark.parametrize("nested", [True, False])
def test_a_config_saved_before_the_arch_batch_and_grappler_keeps_what_it_ran(nested):
    # Those searches ran their arch steps on eval_batch_size, without
    # Grappler: a resumed one must go on so, not switch halfway.
    config = resolve("fashion_mnist")
    new = ("arch_batch_size", "grappler")
    data = config.to_dict()
    if nested:
        del data["arch_search"]["arch_batch_size"], data["run"]["grappler"]
    else:
        data = {k: v for k, v in config_tree.flatten(config).items() if k not in new}
        data |= {"format": search_config.CONFIG_FORMAT, "schema_version": 1}
    old = search_config.config_from_dict(data)
    assert (old.arch_search.arch_batch_size, old.run.grappler) == (250, False)
    assert search_config.config_from_dict(config.to_dict()) == config
    assert (config.arch_search.arch_batch_size, config.run.grappler) == (0, True)


def test_reinforce_needs_a_held_out_split_that_fills_its_batch():
    with pytest.raises(ConfigError, match="--rl_batch_size=2000: expected at most --valid_size"):
        resolve("demo", mode="reinforce", rl_batch_size=2000)
    resolve("demo", rl_batch_size=2000)  # only REINFORCE draws that batch


def test_flags_override_the_experiment():
    config = resolve("demo", epochs=3, target="cpu")
    assert config.experiment == "demo" and config.data.dataset == "demo"
    recipe = config.recipe
    assert (recipe.epochs, config.latency.target, recipe.warmup_epochs) == (3, "cpu", 4)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target_latency": -5.0}, "--target_latency=-5.0: expected a latency > 0"),
        ({"mode": "darts"}, "--mode='darts': expected one of"),
        ({"batch_size": 0}, "--batch_size=0: expected an integer >= 1"),
        ({"momentum": 1.5}, r"--momentum=1.5: expected a number in \[0, 1\)"),
        ({"loss": "hinge", "loss_params": {"beta": 1.0}}, "parameters of loss 'hinge': lam"),
        ({"epochs": 0, "warmup_epochs": 0}, "at least one epoch"),
        ({"colour": 1}, "unknown config fields"),
        ({"rl_samples": 0}, "--rl_samples=0: expected an integer >= 1"),
        ({"rl_baseline": "mean"}, "--rl_baseline='mean': expected one of"),
        ({"rl_baseline_weight": 0.0}, r"--rl_baseline_weight=0.0: expected a number in \(0, 1\]"),
        ({"init": "zeros"}, "--init='zeros': expected one of"),
        ({"jitter_saturation": 1.0}, r"--jitter_saturation=1.0: expected a number in \[0, 1\)"),
    ],
)
def test_bad_values_name_the_field_and_what_was_expected(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve("demo", **overrides)


def test_unknown_experiment_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown experiment 'mnist'; choose one of imagenet"):
        resolve("mnist")


def test_config_file_round_trip_and_version_check(tmp_path):
    config = resolve("demo", loss_params={"lam": 0.3}, target_latency=None)
    path = SEARCH.save_config(config, tmp_path)  # every job saves through its JobKind
    assert search_config.load_config(path) == config
    future = dataclasses.replace(config)
    data = future.to_dict() | {"schema_version": 99}
    with pytest.raises(ConfigError, match="schema_version 99"):
        search_config.config_from_dict(data, "x.json")


def test_differences_lists_only_what_changed():
    saved = SearchConfig()
    assert search_config.differences(saved, {"epochs": 120, "seed": 3}) == ["seed: 0 -> 3"]


def test_fashion_mnist_experiment_searches_its_own_space_on_the_real_data():
    config = resolve("fashion_mnist")
    assert config.space == "fashion_mnist"
    assert (config.data.dataset, config.data.resolution) == ("fashion_mnist", 28)
    # Grayscale: nothing to jitter; search and training share the data.
    assert config.data.jitter_brightness == config.data.jitter_saturation == 0
    assert config.data.valid_size < 60_000 and config.latency.target == "mobile"
    from tfnas.train.config import resolve as resolve_train

    training = resolve_train("fashion_mnist", arch="x.json")
    assert (training.data.dataset, training.data.augment) == ("fashion_mnist", config.data.augment)
    # The search costs less than two trainings of its network (5 supernet epochs against 3).
    assert config.total_epochs <= 2 * training.recipe.epochs


def test_grappler_is_a_run_setting_of_both_jobs():
    from tfnas.train.config import resolve as resolve_train

    assert resolve("demo").run.grappler and resolve_train("demo", arch="mobilenet_v2").run.grappler
    assert resolve("demo", grappler=False).run.grappler is False
    assert "grappler" in search_config.FIELDS
