"""Strict reading of JSON objects, with errors that name the field's path.

Specs, the authors' `net.config`, latency tables, cost models and run
records are read through `Fields`, so a bad file always fails with one line
such as `blocks[3].stride: expected an integer, got "2"`. A reader names the
error class its format raises (`SpecError` for specs, `FieldError` else).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tfnas.errors import FieldError

_MISSING = object()

_KINDS: dict[type, tuple[tuple[type, ...], str]] = {
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
    bool: ((bool,), "true or false"),
    list: ((list,), "a list"),
    dict: ((dict,), "an object"),
}


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


@contextlib.contextmanager
def within(where: str) -> Iterator[None]:
    """Prefixes the field path of any `FieldError` raised inside with `where` (same class)."""
    try:
        yield
    except FieldError as error:
        if not where:
            raise
        raise error.within(where) from None


class Fields:
    """Reads the fields of one JSON object, checking types and rejecting unknown keys."""

    def __init__(self, data: Any, where: str = "", error: type[FieldError] = FieldError) -> None:
        if not isinstance(data, dict):
            raise error(f"expected an object, got {data!r}", where or None)
        self.error = error  # what a bad field raises: the format's error class
        self._data = data
        self._where = where
        self._read: set[str] = set()

    @property
    def where(self) -> str:
        """The path of this object inside the document ('' at the top)."""
        return self._where

    def has(self, key: str) -> bool:
        """Whether the object has `key`."""
        return key in self._data

    def get(self, key: str, kind: type, default: Any = _MISSING, nullable: bool = False) -> Any:
        """Returns field `key`, checked to be of `kind` (int, float, str, bool, list, dict).

        Args:
            key: The field name.
            kind: The expected Python type; bools are never accepted as numbers.
            default: Value when the field is absent; without it the field is required.
            nullable: Whether JSON null is accepted (returned as None).
        """
        self._read.add(key)
        path = _path(self._where, key)
        if key not in self._data:
            if default is _MISSING:
                raise self.error("required field is missing", path)
            return default
        value = self._data[key]
        if value is None and nullable:
            return None
        accepted, description = _KINDS[kind]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accepted):
            raise self.error(f"expected {description}, got {value!r}", path)
        return float(value) if kind is float else value

    def expect(self, key: str, expected: Any) -> None:
        """Requires field `key` to equal `expected` (for fields tfnas supports one value of)."""
        self._read.add(key)
        value = self._data.get(key, _MISSING)
        if value is _MISSING:
            raise self.error("required field is missing", _path(self._where, key))
        if value != expected or isinstance(value, bool) != isinstance(expected, bool):
            raise self.error(
                f"only {expected!r} is supported, got {value!r}", _path(self._where, key)
            )

    def sub(self, key: str, nullable: bool = False) -> Fields | None:
        """The nested object at `key` (None when null and `nullable`)."""
        value = self.get(key, dict, nullable=nullable)
        return None if value is None else Fields(value, _path(self._where, key), self.error)

    def items(self, key: str) -> list[tuple[str, Any]]:
        """The elements of the list at `key`, each with its path (`key[i]`)."""
        path = _path(self._where, key)
        return [(f"{path}[{i}]", value) for i, value in enumerate(self.get(key, list))]

    def done(self) -> None:
        """Raises if the object has fields that were never read (typos, unsupported options)."""
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            expected = ", ".join(sorted(self._read)) or "none"
            raise self.error(
                f"unknown field(s) {', '.join(unknown)} (expected: {expected})",
                self._where or None,
            )


def check_header(fields: Fields, kind: str, version: int, what: str, fix: str) -> None:
    """Checks a versioned file's `format` and `schema_version` before anything else.

    Args:
        fields: The top-level object.
        kind: The `format` value expected.
        version: The `schema_version` this tfnas reads.
        what: What the file is, for the message (`table`, `cost model`).
        fix: What the user can do about another version.
    """
    found = fields.get("format", str)
    if found != kind:
        raise fields.error(f"expected {kind!r}, got {found!r}", "format")
    found_version = fields.get("schema_version", int)
    if found_version != version:
        raise fields.error(
            f"this {what} has version {found_version}, this tfnas reads version {version}; {fix}",
            "schema_version",
        )
