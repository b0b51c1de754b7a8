"""Config trees: leaves by name and path, presets, config.json (nested and version 1),
and the flags generated from them with --params_override."""

import dataclasses
import json

import pytest
from absl import flags

from tfnas.compare.config import CompareConfig
from tfnas.config import tree as config_tree
from tfnas.config.flags import define_config_flags, flag_overrides, parse_params_override
from tfnas.config.groups import DataConfig, RecipeConfig, RunConfig, value
from tfnas.config.tree import ConfigError, flatten, leaves, with_values
from tfnas.search import config as search_config
from tfnas.search.config import SearchConfig
from tfnas.search.job import SEARCH
from tfnas.train import config as train_config
from tfnas.train.config import TrainConfig


@pytest.mark.parametrize("cls", [SearchConfig, TrainConfig, CompareConfig])
def test_every_leaf_has_a_unique_name_and_a_help(cls):
    found = leaves(cls)
    assert len(found) == len({leaf.dotted for leaf in found.values()})
    assert all(leaf.help for name, leaf in found.items() if name != "experiment")


def test_search_and_training_share_the_data_recipe_and_run_groups():
    for cls in (SearchConfig, TrainConfig):
        groups = {leaf.path[0] for leaf in leaves(cls).values() if len(leaf.path) > 1}
        assert {"data", "recipe", "run"} <= groups
    shared = {f.name for g in (DataConfig, RecipeConfig, RunConfig) for f in dataclasses.fields(g)}
    assert shared <= set(leaves(SearchConfig)) & set(leaves(TrainConfig))


def test_two_leaves_with_one_name_are_refused():
    @dataclasses.dataclass(frozen=True)
    class Clash:
        seed: int = value(0, "a seed")
        run: RunConfig = dataclasses.field(default_factory=RunConfig)

    with pytest.raises(TypeError, match="two values are named 'seed'"):
        leaves(Clash)


def test_values_are_replaced_by_name_or_path_and_the_rest_is_shared():
    base = SearchConfig()
    changed = with_values(base, {"learning_rate": 0.5, "data.batch_size": 32})
    assert changed.recipe.learning_rate == 0.5 and changed.data.batch_size == 32
    assert changed.run is base.run and changed.latency is base.latency  # untouched groups
    assert base.recipe.learning_rate == 0.025  # the preset is not modified
    with pytest.raises(ConfigError, match=r"unknown config fields \['colour'\]"):
        with_values(base, {"colour": 1})


def test_presets_are_derived_from_the_imagenet_config():
    demo = search_config.EXPERIMENTS["demo"]
    imagenet = search_config.EXPERIMENTS["imagenet"]
    assert demo.arch_search.arch_beta2 == imagenet.arch_search.arch_beta2  # not restated
    assert demo.data.dataset == "demo" and demo.recipe.learning_rate == 0.05
    assert train_config.EXPERIMENTS["demo"].run.seed == TrainConfig().run.seed


def test_config_json_is_nested_and_reads_back(tmp_path):
    config = search_config.resolve("demo", loss_params={"lam": 0.3}, target_latency=None)
    path = SEARCH.save_config(config, tmp_path)  # every job saves through its JobKind
    data = json.loads(path.read_text())
    assert data["schema_version"] == config_tree.SCHEMA_VERSION
    assert data["recipe"]["learning_rate"] == 0.05 and data["latency"]["loss_params"] == {
        "lam": 0.3
    }
    assert search_config.load_config(path) == config


def test_a_version_1_flat_config_still_resumes(tmp_path):
    config = search_config.resolve("demo", epochs=3)
    flat = {"format": search_config.CONFIG_FORMAT, "schema_version": 1, **flatten(config)}
    flat["valid_batch_size"] = flat.pop("eval_batch_size")  # its name before the groups
    path = tmp_path / "config.json"
    path.write_text(json.dumps(flat))
    assert search_config.load_config(path) == config


def test_unknown_fields_in_a_nested_file_are_named(tmp_path):
    data = search_config.resolve("demo").to_dict()
    data["recipe"]["lr"] = 0.1
    with pytest.raises(ConfigError, match=r"x.json.recipe: unknown fields \['lr'\]"):
        search_config.config_from_dict(data, "x.json")


def test_differences_and_resume_compare_leaves():
    saved = search_config.resolve("demo")
    assert config_tree.differences(saved, {"epochs": 10, "seed": 3}) == ["seed: 0 -> 3"]


# -- flags ---------------------------------------------------------------------


@pytest.fixture
def search_flags():
    flag_values = flags.FlagValues()
    define_config_flags(
        SearchConfig, search_config.FLAG_HELP, search_config.ALIASES, flag_values=flag_values
    )
    return flag_values


def parsed(flag_values, *argv):
    flag_values(["prog", *argv])
    return flag_overrides(SearchConfig, search_config.ALIASES, flag_values=flag_values)


def test_a_flag_per_leaf_with_the_fields_help(search_flags):
    names = set(leaves(SearchConfig)) - {"experiment"}
    assert names <= set(search_flags)
    assert search_flags["epochs"].help == "Search epochs after the warmup."
    assert search_flags["arch_beta1"].help == "Adam beta_1 of alpha (the paper: 0)."


def test_only_given_flags_override_and_they_are_parsed(search_flags):
    overrides = parsed(
        search_flags, "--epochs=3", "--target_latency=none", "--loss_params=lam=0.3,beta=0.5"
    )
    assert overrides == {
        "epochs": 3,
        "target_latency": None,
        "loss_params": {"lam": 0.3, "beta": 0.5},
    }


def test_the_old_flag_name_still_works(search_flags):
    assert parsed(search_flags, "--valid_batch_size=50") == {"eval_batch_size": 50}


def test_params_override_as_pairs_or_json_and_single_flags_win(search_flags, tmp_path):
    given = parsed(
        search_flags,
        "--params_override=recipe.learning_rate=0.2,batch_size=32,nesterov=false",
        "--batch_size=16",
    )
    assert given == {"learning_rate": 0.2, "batch_size": 16, "nesterov": False}
    file = tmp_path / "override.json"
    file.write_text(json.dumps({"recipe": {"epochs": 2}, "latency": {"loss_params": {"lam": 1}}}))
    assert parse_params_override(str(file), SearchConfig) == {
        "epochs": 2,
        "loss_params": {"lam": 1},
    }
    text = '{"data": {"resolution": 64}, "seed": 4}'
    assert parse_params_override(text, SearchConfig) == {"resolution": 64, "seed": 4}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning_rate=fast", r"learning_rate='fast': expected a number"),
        ("nesterov=maybe", "expected true or false"),
        ("colour=1", "is not NAME=VALUE with NAME one of"),
        ('{"recipe": {"epochs": "two"}}', r"recipe.epochs='two': expected an integer"),
        ('{"recipe": {"lr": 1}}', "unknown config field 'recipe.lr'"),
        ("{broken", "not valid JSON"),
        ("missing.json", "cannot read it"),
    ],
)
def test_bad_overrides_name_the_value_and_what_was_expected(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_params_override(text, SearchConfig)


def test_an_override_through_resolve_is_checked():
    overrides = parse_params_override("momentum=1.5", SearchConfig)
    with pytest.raises(ConfigError, match=r"--momentum=1.5: expected a number in \[0, 1\)"):
        search_config.resolve("demo", **overrides)
