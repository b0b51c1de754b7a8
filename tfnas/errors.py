"""Errors that tfnas raises for bad input, each naming what it received."""


class UserError(Exception):
    """An error the user can fix: bad input, a missing file, a run to set up differently.

    Every such error in tfnas, deploy and tflite_bench derives from this
    class, and its message alone says what was received, what was expected
    and how to fix it. Commands (`tfnas.engine.command.run_command`) print it as one
    `error:` line; any other exception is a bug and keeps its traceback.
    Subclasses also derive from the builtin a caller would expect
    (`ValueError`, `LookupError`, ...), so that `except ValueError` still
    catches a bad value.
    """


class FieldError(UserError, ValueError):
    """A document that does not hold what its format says: bad JSON, a missing or mistyped field.

    Its text starts with the path of the offending field (`entries['Conv-...'].mean:
    ...`) so that it can be shown as one line to a user. Latency tables, cost
    models, targets and run records raise it; specs raise `SpecError`.

    Attributes:
        message: What is wrong, without the field path.
        field: The path of the offending field, or None when no field is at fault.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def within(self, parent: str) -> "FieldError":
        """The same error, of the same class, with its field path placed under `parent`."""
        return type(self)(self.message, f"{parent}.{self.field}" if self.field else parent)


class SpecError(FieldError):
    """A network or search-space spec that is malformed or inconsistent (`FieldError`'s kind)."""


class ConfigError(UserError, ValueError):
    """A config value that cannot be used; the message names the field and the fix.

    Defined here, below the config package, so that the data pipeline and the
    device flags can raise it without importing the config machinery.
    """


class DataError(UserError, ValueError):
    """A dataset that cannot be loaded; the message says how to provide it."""


class UnknownNameError(UserError, KeyError):
    """A registry lookup for a name that is not registered; the message lists the names."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a user should read the sentence as written.
        return str(self.args[0]) if self.args else ""


def check_positive_int(field: str, value: object) -> None:
    """Raises `SpecError` naming `field` unless `value` is an int >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"expected a positive integer, got {value!r}", field)
