"""Reading JSON files with one-line errors that name the file (and the format's error class)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tfnas.errors import FieldError


def read_text(path: str | os.PathLike[str], error: type[FieldError] = FieldError) -> str:
    """Reads a UTF-8 text file; an OS or decoding error becomes one line naming the path.

    Args:
        path: The file.
        error: The class to raise: the format's (`SpecError` for a spec).
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as failure:
        reason = getattr(failure, "strerror", None) or str(failure)
        raise error(f"{path}: cannot read the file: {reason}") from None


def parse_json(text: str, source: str, error: type[FieldError] = FieldError) -> Any:
    """Parses JSON text; a syntax error becomes one line naming `source` and the place.

    Args:
        text: The JSON text.
        source: Where it came from (a path), for the message.
        error: The class to raise: the format's (`SpecError` for a spec).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(
            f"{source}: not valid JSON (line {failure.lineno}, column {failure.colno}): "
            f"{failure.msg}"
        ) from None
