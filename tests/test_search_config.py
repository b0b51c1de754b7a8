"""Search configs: named experiments, overrides, checks that name the field, round trips."""

import dataclasses

import pytest

from tfnas.search import config as search_config
from tfnas.search.config import ConfigError, SearchConfig, resolve


def test_imagenet_defaults_are_the_papers_recipe():
    config = resolve("imagenet")
    assert (config.warmup_epochs, config.epochs, config.batch_size) == (40, 120, 256)
    assert (config.learning_rate, config.weight_decay, config.label_smoothing) == (0.025, 4e-5, 0.1)
    assert (config.arch_learning_rate, config.arch_beta1, config.arch_update_every) == (1e-3, 0, 5)
    assert (config.target, config.target_latency, config.loss) == ("mobile", 80.0, "mul_log")
    assert config.valid_size == 10_000 and config.arch_start_epoch == 1


def test_flags_override_the_experiment():
    config = resolve("demo", epochs=3, target="cpu")
    assert config.experiment == "demo" and config.dataset == "demo"
    assert (config.epochs, config.target, config.warmup_epochs) == (3, "cpu", 4)


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
    path = search_config.save_config(config, tmp_path / "config.json")
    assert search_config.load_config(path) == config
    future = dataclasses.replace(config)
    data = future.to_dict() | {"schema_version": 99}
    with pytest.raises(ConfigError, match="schema_version 99"):
        search_config.config_from_dict(data, "x.json")


def test_differences_lists_only_what_changed():
    saved = SearchConfig()
    assert search_config.differences(saved, {"epochs": 120, "seed": 3}) == ["seed: 0 -> 3"]
