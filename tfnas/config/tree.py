"""Config trees: nested frozen dataclasses, their overrides, presets and `config.json`.

A command's config (`SearchConfig`, `TrainConfig`, `CompareConfig`) is a
frozen dataclass whose fields are values or groups (`DataConfig`,
`RecipeConfig`, `RunConfig` of `tfnas.config.groups`, or a command's own group).
Every value (a *leaf*) has a name that is unique in its tree, so a leaf is
addressed by its name (`learning_rate`) as the flags do, or by its path
(`recipe.learning_rate`) as `--params_override` may:

    config = with_values(SearchConfig(), {"learning_rate": 0.1, "data.batch_size": 32})

A named experiment is a config derived from another with `with_values`
(which is `dataclasses.replace` on each group touched); the resolved config
is written to `config.json` (nested, with a format tag and a schema
version), and `--resume` continues with it.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import os
import typing
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tfnas.errors import ConfigError
from tfnas.io.atomic import write_text_atomic

# 2: nested groups. Version 1 files (one flat object) are still read: their
# leaf names are those of version 2 (see `from_dict`).
SCHEMA_VERSION = 2
CONFIG_FILE = "config.json"
ConfigT = TypeVar("ConfigT")


def require(condition: bool, field: str, value: Any, expected: str) -> None:
    """Raises `ConfigError` saying `--field=value: expected ...` unless `condition`."""
    if not condition:
        raise ConfigError(f"--{field}={value!r}: expected {expected}")


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One value of a config tree.

    Attributes:
        name: Its name, unique in the tree (the flag's name).
        path: The group fields leading to it, then its name.
        kind: Its type: str, int, float, bool or dict (of str to float).
        optional: Whether None is a value (`str | None`, `float | None`, ...).
        help: What the flag's help says.
    """

    name: str
    path: tuple[str, ...]
    kind: type
    optional: bool
    help: str

    @property
    def dotted(self) -> str:
        """The path as `group.name`."""
        return ".".join(self.path)


def is_group(kind: Any) -> bool:
    """Whether a field's type is a nested config (a dataclass)."""
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


def _leaf_kind(hint: Any, where: str) -> tuple[type, bool]:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = len(args) < len(typing.get_args(hint))
    base = args[0] if optional and len(args) == 1 else hint
    base = typing.get_origin(base) or base
    if base not in (str, int, float, bool, dict):
        raise TypeError(f"{where}: config values are str, int, float, bool or dict, not {hint}")
    return base, optional


@functools.cache
def leaves(cls: type) -> dict[str, Leaf]:
    """Every leaf of the config class `cls`, by name, in field order.

    Raises:
        TypeError: Two leaves share a name (a flag could not tell them apart),
            or a value has a type that flags cannot carry.
    """
    found: dict[str, Leaf] = {}

    def walk(group: type, prefix: tuple[str, ...]) -> None:
        hints = typing.get_type_hints(group)
        for field in dataclasses.fields(group):
            hint = hints[field.name]
            if is_group(hint):
                walk(hint, (*prefix, field.name))
                continue
            if field.name in found:
                raise TypeError(
                    f"{cls.__name__}: two values are named {field.name!r} "
                    f"({found[field.name].dotted} and {'.'.join((*prefix, field.name))})"
                )
            kind, optional = _leaf_kind(hint, f"{group.__name__}.{field.name}")
            path = (*prefix, field.name)
            found[field.name] = Leaf(
                field.name, path, kind, optional, field.metadata.get("help", "")
            )

    walk(cls, ())
    return found


def field_names(cls: type) -> list[str]:
    """The names of every leaf of a config class."""
    return list(leaves(cls))


def flatten(config: Any) -> dict[str, Any]:
    """The config's leaves by name."""
    result = {}
    for name, leaf in leaves(type(config)).items():
        value = config
        for part in leaf.path:
            value = getattr(value, part)
        result[name] = value
    return result


def _leaf_for(cls: type, key: str, aliases: Mapping[str, str]) -> Leaf | None:
    by_name = leaves(cls)
    key = aliases.get(key, key)
    if key in by_name:
        return by_name[key]
    return next((leaf for leaf in by_name.values() if leaf.dotted == key), None)


def with_values(
    config: ConfigT, values: Mapping[str, Any], aliases: Mapping[str, str] | None = None
) -> ConfigT:
    """`config` with leaves replaced, each given by name or by dotted path.

    Each group touched is copied with `dataclasses.replace`; nothing is checked
    beyond the names (a command's `check` does the values).

    Raises:
        ConfigError: A name that is not a leaf of the config.
    """
    cls = type(config)
    paths: dict[tuple[str, ...], Any] = {}
    unknown = []
    for key, value in values.items():
        leaf = _leaf_for(cls, key, aliases or {})
        if leaf is None:
            unknown.append(key)
        else:
            paths[leaf.path] = value
    if unknown:
        raise ConfigError(
            f"unknown config fields {sorted(unknown)}; known: {', '.join(leaves(cls))}"
        )
    return _replace(config, paths)


def _replace(group: Any, paths: Mapping[tuple[str, ...], Any]) -> Any:
    direct = {path[0]: value for path, value in paths.items() if len(path) == 1}
    nested: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, value in paths.items():
        if len(path) > 1:
            nested.setdefault(path[0], {})[path[1:]] = value
    for name, inner in nested.items():
        direct[name] = _replace(getattr(group, name), inner)
    return dataclasses.replace(group, **direct) if direct else group


def resolve_preset(
    presets: Mapping[str, ConfigT],
    experiment: str,
    overrides: Mapping[str, Any],
    check: Callable[[ConfigT], None],
    aliases: Mapping[str, str] | None = None,
) -> ConfigT:
    """The preset `experiment` with `overrides` (leaf names or paths) applied, checked.

    Raises:
        ConfigError: Unknown experiment or field, or a value `check` rejects.
    """
    if experiment not in presets:
        raise ConfigError(f"unknown experiment {experiment!r}; choose one of {', '.join(presets)}")
    config = with_values(presets[experiment], {**overrides, "experiment": experiment}, aliases)
    check(config)
    return config


def to_dict(config: Any, fmt: str) -> dict[str, Any]:
    """JSON-ready form of a config tree (nested like the groups), with a format header."""
    return {"format": fmt, "schema_version": SCHEMA_VERSION, **dataclasses.asdict(config)}


def _from_nested(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown fields {unknown}")
    values = {
        name: _from_nested(hints[name], value, f"{where}.{name}")
        if is_group(hints[name])
        else value
        for name, value in data.items()
    }
    return cls(**values)


def from_dict(
    cls: Callable[..., ConfigT],
    data: Any,
    fmt: str,
    check: Callable[[ConfigT], None],
    source: str = "config",
    aliases: Mapping[str, str] | None = None,
) -> ConfigT:
    """Reads a config written by `to_dict`; raises `ConfigError` naming a bad field.

    A version 1 file (flat: every leaf at the top) is read into the defaults
    of `cls` by leaf name, so runs started before the groups still resume.
    """
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ConfigError(f"{source}: not a {fmt} file")
    version = data.get("schema_version")
    if version not in (1, SCHEMA_VERSION):
        raise ConfigError(
            f"{source}: schema_version {version!r}, this tfnas reads 1 and "
            f"{SCHEMA_VERSION}; start a new run"
        )
    values = {k: v for k, v in data.items() if k not in ("format", "schema_version")}
    if version == 1:
        try:
            config = with_values(cls(), values, aliases)  # type: ignore[call-arg]
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    else:
        config = _from_nested(cls, values, source)  # type: ignore[arg-type]
    check(config)
    return config


def save_config(config: Any, fmt: str, path: str | os.PathLike[str]) -> Path:
    """Writes `config.json` atomically."""
    return write_text_atomic(path, json.dumps(to_dict(config, fmt), indent=2) + "\n")


def read_config_json(path: str | os.PathLike[str]) -> Any:
    """The parsed `config.json`; a `ConfigError` when it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the run's config: {error}") from None


def differences(saved: Any, given: Mapping[str, Any]) -> list[str]:
    """Leaves of `given` whose values differ from `saved`'s, as `name: saved -> given`."""
    values = flatten(saved)
    return [
        f"{name}: {values[name]!r} -> {value!r}"
        for name, value in sorted(given.items())
        if values[name] != value
    ]


def resolve_run(
    kind: str,
    resume: bool,
    output_dir: str | None,
    experiment: str,
    experiment_given: bool,
    overrides: Mapping[str, Any],
    resolve: Callable[..., ConfigT],
    load: Callable[[str], ConfigT],
    marker: str = "checkpoints/state.json",
    noun: str | None = None,
    adjustable: Collection[str] = (),
) -> tuple[ConfigT, Path]:
    """The config and output folder of one invocation of a command.

    A new run resolves `experiment` with `overrides` into a fresh folder
    (default `runs/KIND-TIMESTAMP`); `--resume` reads the folder's
    `config.json` and refuses flags that disagree with it, except the
    `adjustable` fields: those are what a diverged run says to change (a lower
    learning rate) before it resumes from its last good checkpoint, so the
    resumed run takes them (the caller writes the config back).

    Args:
        kind: `search`, `train` or `compare`, for the default folder.
        resume: Whether `--resume` was given.
        output_dir: `--output_dir`, or None.
        experiment: `--experiment`.
        experiment_given: Whether `--experiment` was on the command line.
        overrides: Leaves given on the command line, by name, parsed.
        resolve: `resolve(experiment, **overrides)` of the command's config.
        load: Reads the command's `config.json`.
        marker: The file (relative to the folder) whose presence means a run
            is already there.
        noun: What the messages call a run (default `KIND run`).
        adjustable: Leaves that `--resume` may change.

    Raises:
        ConfigError: A new run into a folder that holds one, a resume of a
            folder that holds none, or flags that disagree with the run resumed.
    """
    noun = noun or f"{kind} run"
    if not resume:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(output_dir) if output_dir else Path("runs") / f"{kind}-{stamp}"
        if (out / marker).exists():
            raise ConfigError(
                f"--output_dir={str(out)!r} already holds a {noun}; pass --resume to "
                "continue it, or choose another --output_dir"
            )
        return resolve(experiment, **overrides), out
    if not output_dir:
        raise ConfigError(f"--resume needs --output_dir: the folder of the {noun} to continue")
    out = Path(output_dir)
    if not (out / CONFIG_FILE).exists():
        raise ConfigError(
            f"--output_dir={output_dir!r} has no {CONFIG_FILE}; it is not a {noun} to resume"
        )
    saved = load(str(out / CONFIG_FILE))
    given = dict(overrides)
    if experiment_given:
        given["experiment"] = experiment
    fixed = {name: value for name, value in given.items() if name not in adjustable}
    changed = differences(saved, fixed)
    if changed:
        may = f" (it may change only {', '.join(adjustable)})" if adjustable else ""
        raise ConfigError(
            f"--resume continues {out}/{CONFIG_FILE} as it is{may}; these flags disagree "
            "with it: " + "; ".join(changed)
        )
    adjusted = {name: value for name, value in given.items() if name in adjustable}
    if not differences(saved, adjusted):
        return saved, out
    values = {**flatten(saved), **adjusted}
    return resolve(values.pop("experiment"), **values), out


def report_adjusted(saved: Any, config: Any) -> None:
    """Prints the leaves a `--resume` changed (see `resolve_run`'s `adjustable`), if any."""
    changed = differences(saved, flatten(config))
    if changed:
        print(f"resuming with changed values: {'; '.join(changed)}", flush=True)
