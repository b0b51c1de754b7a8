"""`tfnas COMMAND` (and `python -m tfnas COMMAND`) runs the command's own module."""

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from commands import error_lines, run_module

from tfnas import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
_MAIN_GUARD = re.compile(r'^if __name__ == "__main__":', re.MULTILINE)


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_subcommand_names_an_entry_point(name):
    module = cli.COMMANDS[name][0]
    spec = importlib.util.find_spec(module)
    assert spec is not None, module
    if spec.submodule_search_locations:  # a package: python -m runs its __main__
        spec = importlib.util.find_spec(f"{module}.__main__")
    assert _MAIN_GUARD.search(Path(spec.origin).read_text()), f"{module} is no entry point"


def test_a_subcommand_prints_what_python_dash_m_prints():
    via_cli = run_module("tfnas", "net", "table", "mobilenet_v2", "proxyless_mobile")
    direct = run_module("tfnas.nets", "table", "mobilenet_v2", "proxyless_mobile")
    assert via_cli.returncode == direct.returncode == 0, via_cli.stderr[-2000:]
    assert via_cli.stdout == direct.stdout and "| proxyless_mobile |" in via_cli.stdout


def test_a_failing_subcommand_keeps_its_error_and_exit_status():
    via_cli = run_module("tfnas", "net", "summary", "no_such_net")
    direct = run_module("tfnas.nets", "summary", "no_such_net")
    assert via_cli.returncode == direct.returncode != 0
    assert error_lines(via_cli) == error_lines(direct) and error_lines(via_cli)


def test_an_unknown_command_is_named_with_the_choices(capsys):
    assert cli.main(["serach"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'serach'" in err and "search, train" in err
    assert cli.main([]) == 2 and "usage: tfnas COMMAND" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0 and "build-table" in capsys.readouterr().out


def test_the_console_script_is_this_main():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["tfnas"] == f"{cli.__name__}:{cli.main.__name__}"
