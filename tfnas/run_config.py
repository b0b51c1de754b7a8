"""What the configs of the search and train commands share: presets, checks, config.json.

A run's config is a frozen dataclass. A named experiment is a dict of field
values; flags override single fields; the resolved config is written to
`config.json` (with a format tag and a schema version), and `--resume`
continues with it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from tfnas.atomic import write_text_atomic

SCHEMA_VERSION = 1
ConfigT = TypeVar("ConfigT")


class ConfigError(ValueError):
    """A config value that cannot be used; the message names the field and the fix."""


def require(condition: bool, field: str, value: Any, expected: str) -> None:
    """Raises `ConfigError` saying `--field=value: expected ...` unless `condition`."""
    if not condition:
        raise ConfigError(f"--{field}={value!r}: expected {expected}")


def field_names(cls: type) -> list[str]:
    """The fields of a config dataclass."""
    return [f.name for f in dataclasses.fields(cls)]


def resolve_preset(
    cls: Callable[..., ConfigT],
    presets: Mapping[str, Mapping[str, Any]],
    experiment: str,
    overrides: Mapping[str, Any],
    check: Callable[[ConfigT], None],
) -> ConfigT:
    """The preset `experiment` with `overrides` applied, checked.

    Raises:
        ConfigError: Unknown experiment or field, or a value `check` rejects.
    """
    if experiment not in presets:
        raise ConfigError(f"unknown experiment {experiment!r}; choose one of {', '.join(presets)}")
    known = field_names(cls)  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ConfigError(f"unknown config fields {unknown}; known: {', '.join(known)}")
    config = cls(**{**presets[experiment], **overrides, "experiment": experiment})
    check(config)
    return config


def config_to_dict(config: Any, fmt: str) -> dict[str, Any]:
    """JSON-ready form of a config dataclass, with a format header."""
    return {"format": fmt, "schema_version": SCHEMA_VERSION, **dataclasses.asdict(config)}


def config_from_dict(
    cls: Callable[..., ConfigT],
    data: Any,
    fmt: str,
    check: Callable[[ConfigT], None],
    source: str = "config",
) -> ConfigT:
    """Reads a config written by `config_to_dict`; raises `ConfigError` naming a bad field."""
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ConfigError(f"{source}: not a {fmt} file")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(
            f"{source}: schema_version {data.get('schema_version')!r}, this tfnas reads "
            f"{SCHEMA_VERSION}; start a new run"
        )
    values = {k: v for k, v in data.items() if k not in ("format", "schema_version")}
    unknown = sorted(set(values) - set(field_names(cls)))  # type: ignore[arg-type]
    if unknown:
        raise ConfigError(f"{source}: unknown fields {unknown}")
    config = cls(**values)
    check(config)
    return config


def save_config(config: Any, fmt: str, path: str | os.PathLike[str]) -> Path:
    """Writes `config.json` atomically."""
    return write_text_atomic(path, json.dumps(config_to_dict(config, fmt), indent=2) + "\n")


def read_config_json(path: str | os.PathLike[str]) -> Any:
    """The parsed `config.json`; a `ConfigError` when it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the run's config: {error}") from None


def differences(saved: Any, given: Mapping[str, Any]) -> list[str]:
    """Fields of `given` whose values differ from `saved`, as `name: saved -> given`."""
    return [
        f"{name}: {getattr(saved, name)!r} -> {value!r}"
        for name, value in sorted(given.items())
        if getattr(saved, name) != value
    ]


CONFIG_FILE = "config.json"


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
        overrides: Config fields given on the command line, parsed.
        resolve: `resolve(experiment, **overrides)` of the command's config.
        load: Reads the command's `config.json`.
        marker: The file (relative to the folder) whose presence means a run
            is already there.
        noun: What the messages call a run (default `KIND run`).
        adjustable: Fields that `--resume` may change.

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
    values = {**dataclasses.asdict(saved), **adjusted}  # type: ignore[call-overload]
    del values["experiment"]
    return resolve(saved.experiment, **values), out  # type: ignore[attr-defined]


def report_adjusted(saved: Any, config: Any) -> None:
    """Prints the fields a `--resume` changed (see `resolve_run`'s `adjustable`), if any."""
    changed = differences(saved, dataclasses.asdict(config))
    if changed:
        print(f"resuming with changed values: {'; '.join(changed)}", flush=True)


def given_overrides(
    flag_values: Any,
    fields: Sequence[str],
    parsers: Mapping[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """Config fields set on the command line (flags whose default None was replaced), parsed.

    Args:
        flag_values: absl's `FLAGS`.
        fields: The config's field names; each may have a flag of the same name.
        parsers: Field -> function turning the flag's value into the field's.
    """
    parsers = parsers or {}
    overrides = {}
    for name in fields:
        if name == "experiment" or name not in flag_values or flag_values[name].value is None:
            continue
        value = flag_values[name].value
        overrides[name] = parsers[name](value) if name in parsers else value
    return overrides
