import pytest

from tfnas.errors import FieldError, SpecError, UnknownNameError, check_positive_int


def test_spec_error_prefixes_field_paths():
    error = SpecError("expected a positive integer, got 0", "stride")
    assert str(error) == "stride: expected a positive integer, got 0"
    assert str(error.within("blocks[3]")) == "blocks[3].stride: expected a positive integer, got 0"
    assert str(SpecError("bad").within("stem")) == "stem: bad"


def test_a_field_error_keeps_its_class_under_a_parent():
    assert type(SpecError("bad", "stride").within("stem")) is SpecError
    assert type(FieldError("bad", "mean").within("entries['x']")) is FieldError
    assert isinstance(SpecError("bad"), FieldError)  # readers of any format catch FieldError


def test_unknown_name_error_reads_as_a_sentence():
    assert str(UnknownNameError("unknown network 'x'")) == "unknown network 'x'"


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "3", None])
def test_check_positive_int_rejects(value):
    with pytest.raises(SpecError, match="^width: expected a positive integer"):
        check_positive_int("width", value)


def test_check_positive_int_accepts():
    check_positive_int("width", 7)


def project_error_classes() -> dict[str, list[str]]:
    """`module.Class` -> its base names, for every class named `*Error` in the project."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    classes = {}
    for package in ("tfnas", "deploy", "tflite_bench", "benchmarks"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                    bases = [ast.unparse(base).rpartition(".")[2] for base in node.bases]
                    classes[f"{path.relative_to(root)}:{node.name}"] = bases
    return classes


def test_every_project_error_is_a_user_error():
    # A command prints a UserError as one line; anything else is a bug with its traceback.
    classes = project_error_classes()
    names = {key.rpartition(":")[2] for key in classes}
    assert {"SpecError", "ConfigError", "DeviceError", "ExportError", "PartError"} <= names
    strays = {
        key: bases
        for key, bases in classes.items()
        if not ({"UserError"} | (names - {"UserError"})) & set(bases)
        and key.rpartition(":")[2] != "UserError"
    }
    assert not strays, f"errors not derived from tfnas.errors.UserError: {strays}"


def test_a_command_prints_a_users_mistake_as_one_line_and_a_bug_with_its_traceback(capsys):
    from tfnas.config.tree import ConfigError
    from tfnas.engine.command import run_command

    def mistake() -> int:
        raise ConfigError("--epochs=0: expected an integer >= 1")

    assert run_command(["prog"], mistake) == 2
    assert capsys.readouterr().err == "error: --epochs=0: expected an integer >= 1\n"

    def bug() -> int:
        raise ValueError("an internal invariant broke")

    with pytest.raises(ValueError, match="an internal invariant broke"):
        run_command(["prog"], bug)
    assert run_command(["prog", "extra"], lambda: 0) == 2
    assert "unexpected arguments ['extra']" in capsys.readouterr().err
    assert run_command(["prog"], lambda: 0) == 0


def test_user_errors_stay_the_builtins_callers_catch():
    from tfnas.config.tree import ConfigError
    from tfnas.errors import DataError, UserError

    for error in (SpecError("x"), DataError("x"), ConfigError("x")):
        assert isinstance(error, UserError) and isinstance(error, ValueError)
    assert isinstance(UnknownNameError("x"), KeyError)


def test_a_strategy_outside_the_configs_names_is_refused():
    from tfnas.config.groups import STRATEGIES
    from tfnas.engine.runtime import make_strategy

    with pytest.raises(ValueError, match="strategy must be one of default, mirrored, multi_worker"):
        make_strategy("tpu")
    assert make_strategy(STRATEGIES[0]) is not None  # the default strategy of this process
