"""Command-line flags generated from a config tree, and `--params_override`.

Every leaf of a command's config (`tfnas.config.tree.leaves`) becomes one flag
of the same name whose default None means "the experiment's value"; its help
is the field's `help` metadata. `--params_override` sets any leaves at once,
as `name=value,group.name=value` or as a JSON object (nested like
`config.json`, or a path to such a file). Flags given one by one win over it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from absl import flags

from tfnas.config.tree import ConfigError, Leaf, leaves

PARAMS_OVERRIDE = "params_override"
NONE_WORDS = ("none", "null", "off")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")
_DESCRIPTION = {
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a string",
    dict: "NAME=NUMBER pairs",
}


VERBOSE_HELP = (
    "1: a progress bar per epoch on a terminal, a line every --log_every steps off one "
    "(a log file); 0: one line per epoch."
)


def define_job_flags(
    kind: str,
    experiments: Iterable[str],
    *,
    experiment_help: str = "Named preset of every value.",
    resume_help: str = "Continue the run in --output_dir from its last checkpoint.",
    trains: bool = True,
) -> None:
    """The flags every job's command shares: --experiment, --output_dir, --resume.

    Args:
        kind: The command (`search`, `train`, `compare`, `loop`): the default
            folder is `runs/KIND-TIMESTAMP`.
        experiments: The names `--experiment` takes.
        experiment_help: What `--experiment` sets.
        resume_help: What `--resume` continues.
        trains: Also --cpu_devices and --verbose, the flags of a command that
            runs one job in its own process (search, train).
    """
    flags.DEFINE_enum("experiment", "demo", list(experiments), experiment_help)
    flags.DEFINE_string("output_dir", None, f"Output folder (default: runs/{kind}-TIMESTAMP).")
    flags.DEFINE_bool("resume", False, resume_help)
    if trains:
        flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices.")
        flags.DEFINE_integer("verbose", 1, VERBOSE_HELP)


def define_config_flags(
    cls: type,
    help_overrides: Mapping[str, str] | None = None,
    aliases: Mapping[str, str] | None = None,
    flag_values: flags.FlagValues = flags.FLAGS,
) -> None:
    """Defines a flag for every leaf of `cls` (except `experiment`) and `--params_override`.

    Args:
        cls: The command's config class.
        help_overrides: Leaf name -> help, where the command means something
            more specific than the field's own help.
        aliases: Older flag name -> leaf name, kept working.
        flag_values: Where to define them (absl's global `FLAGS` by default).
    """
    helps = help_overrides or {}
    for leaf in leaves(cls).values():
        if leaf.name == "experiment":
            continue
        text = helps.get(leaf.name, leaf.help)
        if leaf.optional and leaf.kind is not str:
            text += " ('none': none)"
        if leaf.kind is bool:
            flags.DEFINE_bool(leaf.name, None, text, flag_values=flag_values)
        elif leaf.kind is int and not leaf.optional:
            flags.DEFINE_integer(leaf.name, None, text, flag_values=flag_values)
        elif leaf.kind is float and not leaf.optional:
            flags.DEFINE_float(leaf.name, None, text, flag_values=flag_values)
        elif leaf.kind is dict:
            flags.DEFINE_list(leaf.name, None, text, flag_values=flag_values)
        else:  # strings, and numbers that may be 'none', parsed by `parse_text`
            flags.DEFINE_string(leaf.name, None, text, flag_values=flag_values)
    for alias, name in (aliases or {}).items():
        flags.DEFINE_alias(alias, name, flag_values=flag_values)
    flags.DEFINE_string(
        PARAMS_OVERRIDE,
        None,
        "Many values at once: NAME=VALUE,GROUP.NAME=VALUE, a JSON object shaped like "
        "config.json, or the path of a JSON file; single flags win over it.",
        flag_values=flag_values,
    )


def _expected(leaf: Leaf) -> str:
    what = _DESCRIPTION[leaf.kind]
    return f"{what} or 'none'" if leaf.optional else what


def parse_text(leaf: Leaf, text: str, flag: str | None = None) -> Any:
    """The value of `leaf` written as `text`; `ConfigError` naming `--flag` when it is not one."""
    flag = flag or leaf.name
    bad = ConfigError(f"--{flag}={text!r}: expected {_expected(leaf)}")
    word = text.strip().lower()
    if leaf.optional and word in NONE_WORDS:
        return None
    if leaf.kind is str:
        return text
    if leaf.kind is bool:
        if word not in (*_TRUE, *_FALSE):
            raise bad
        return word in _TRUE
    if leaf.kind is dict:
        return parse_pairs(flag, [item for item in text.split(";") if item.strip()])
    try:
        return leaf.kind(text)
    except ValueError:
        raise bad from None


def parse_pairs(flag: str, items: list[str]) -> dict[str, float]:
    """`["lam=0.3", "beta=0.5"]` as `{"lam": 0.3, "beta": 0.5}`; `ConfigError` otherwise."""
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            pairs[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(f"--{flag}: {item!r} is not NAME=NUMBER (e.g. lam=0.3)")
    return pairs


def _check_json(leaf: Leaf, value: Any, where: str) -> Any:
    if value is None and leaf.optional:
        return None
    kinds = {int: (int,), float: (int, float), bool: (bool,), str: (str,), dict: (dict,)}
    fits = isinstance(value, kinds[leaf.kind]) and not (
        leaf.kind is not bool and isinstance(value, bool)
    )
    if not fits:
        raise ConfigError(f"--{PARAMS_OVERRIDE}: {where}={value!r}: expected {_expected(leaf)}")
    return float(value) if leaf.kind is float else value


def parse_params_override(
    text: str, cls: type, aliases: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The leaves `--params_override=text` sets, by leaf name.

    Raises:
        ConfigError: Unknown names, values of the wrong kind, unreadable JSON.
    """
    by_name = leaves(cls)
    by_path = {leaf.dotted: leaf for leaf in by_name.values()}
    aliases = aliases or {}

    def leaf_of(key: str) -> Leaf | None:
        key = aliases.get(key, key)
        return by_name.get(key) or by_path.get(key)

    stripped = text.strip()
    if stripped.endswith(".json") and not stripped.startswith("{"):
        try:
            stripped = Path(stripped).read_text()
        except OSError as error:
            raise ConfigError(f"--{PARAMS_OVERRIDE}={text!r}: cannot read it: {error}") from None
    values: dict[str, Any] = {}
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--{PARAMS_OVERRIDE}: not valid JSON: {error}") from None
        data.pop("format", None)
        data.pop("schema_version", None)
        for key, value in _walk_json(data, "", leaf_of):
            leaf = leaf_of(key)
            assert leaf is not None
            values[leaf.name] = _check_json(leaf, value, key)
        return values
    for item in filter(None, (part.strip() for part in stripped.split(","))):
        key, sep, value_text = item.partition("=")
        leaf = leaf_of(key.strip())
        if not sep or leaf is None:
            raise ConfigError(
                f"--{PARAMS_OVERRIDE}: {item!r} is not NAME=VALUE with NAME one of "
                f"{', '.join(by_name)} (or GROUP.NAME)"
            )
        values[leaf.name] = parse_text(leaf, value_text, f"{PARAMS_OVERRIDE}: {key.strip()}")
    return values


def _walk_json(data: Any, prefix: str, leaf_of: Any) -> list[tuple[str, Any]]:
    """(path, value) of every leaf in a nested JSON object; `ConfigError` for unknown keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"--{PARAMS_OVERRIDE}: {prefix or 'the value'}: expected an object")
    found = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if leaf_of(path) is not None or leaf_of(key) is not None:
            found.append((path if leaf_of(path) is not None else key, value))
        elif isinstance(value, dict):
            found.extend(_walk_json(value, f"{path}.", leaf_of))
        else:
            raise ConfigError(f"--{PARAMS_OVERRIDE}: unknown config field {path!r}")
    return found


def flag_overrides(
    cls: type,
    aliases: Mapping[str, str] | None = None,
    flag_values: flags.FlagValues = flags.FLAGS,
) -> dict[str, Any]:
    """The leaves set on the command line (`--params_override`, then single flags), parsed."""
    overrides: dict[str, Any] = {}
    if PARAMS_OVERRIDE in flag_values and flag_values[PARAMS_OVERRIDE].value:
        overrides.update(parse_params_override(flag_values[PARAMS_OVERRIDE].value, cls, aliases))
    for leaf in leaves(cls).values():
        if leaf.name == "experiment" or leaf.name not in flag_values:
            continue
        value = flag_values[leaf.name].value
        if value is None:
            continue
        if leaf.kind is dict:
            value = parse_pairs(leaf.name, list(value))
        elif isinstance(value, str) and leaf.kind is not str:
            value = parse_text(leaf, value)
        overrides[leaf.name] = value
    return overrides
