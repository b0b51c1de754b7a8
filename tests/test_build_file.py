"""BUILD stays in step with the tree (Bazel itself cannot run here).

BUILD is Starlark, whose function-call subset is Python: it is executed with
stand-ins for the rules that record every target.
"""

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tfnas", "deploy", "tflite_bench", "benchmarks")
_MAIN_GUARD = re.compile(r'^if __name__ == "__main__":', re.MULTILINE)


def read_targets(build_text: str) -> list[dict]:
    """Every rule call in a BUILD file, as its keyword arguments plus `rule`."""
    targets: list[dict] = []

    def rule(kind):
        return lambda **kwargs: targets.append({"rule": kind, **kwargs})

    namespace = {
        "load": lambda *args: None,
        "package": lambda **kwargs: None,
        "requirement": lambda name: f"@pip//{name}",
        "glob": _no_glob,
        "py_library": rule("py_library"),
        "py_binary": rule("py_binary"),
        "py_test": rule("py_test"),
    }
    exec(compile(build_text, "BUILD", "exec"), namespace)  # our own, trusted file
    return targets


def _no_glob(*args, **kwargs):
    raise AssertionError("BUILD must list sources explicitly: a glob hides missing entries")


def build_problems(root: Path) -> list[str]:
    """What BUILD under `root` lacks or lists wrongly; empty when it is in step."""
    targets = read_targets((root / "BUILD").read_text())
    problems = []
    listed = {src for t in targets for src in t.get("srcs", [])}
    names = {t["name"] for t in targets}
    for src in sorted(listed):
        if not (root / src).is_file():
            problems.append(f"BUILD lists {src}, which does not exist")
    modules = sorted(
        p.relative_to(root).as_posix() for pkg in PACKAGES for p in (root / pkg).rglob("*.py")
    )
    for module in modules:
        owners = [t for t in targets if module in t.get("srcs", []) and t["rule"] != "py_test"]
        if not owners:
            problems.append(f"{module} is in no py_library or py_binary")
        is_entry_point = _MAIN_GUARD.search((root / module).read_text())
        binaries = [t for t in targets if t["rule"] == "py_binary" and t.get("main") == module]
        if is_entry_point and not binaries:
            problems.append(f"{module} is an entry point without a py_binary")
    data = {src for t in targets for src in t.get("data", [])}
    for data_file in sorted(p for pkg in PACKAGES for p in (root / pkg).rglob("data/*")):
        rel = data_file.relative_to(root).as_posix()
        if data_file.is_file() and rel not in data:
            problems.append(f"{rel} is a package data file in no target's data")
    for test_file in sorted((root / "tests").glob("test_*.py")):
        rel = test_file.relative_to(root).as_posix()
        tests = [t for t in targets if t["rule"] == "py_test" and t["name"] == test_file.stem]
        if not tests or rel not in tests[0].get("srcs", []):
            problems.append(f"{rel} has no py_test named {test_file.stem} listing it")
    for target in targets:
        for dep in target.get("deps", []):
            if dep.startswith(":") and dep[1:] not in names:
                problems.append(f"{target['name']} depends on undefined target {dep}")
    return problems


def requirement_names(root: Path) -> set[str]:
    names = set()
    for line in (root / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(re.split(r"[=<>!~\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_build_is_in_step_with_the_tree():
    assert build_problems(REPO_ROOT) == []


def test_build_requirements_are_pinned_in_requirements_txt():
    pinned = requirement_names(REPO_ROOT)
    targets = read_targets((REPO_ROOT / "BUILD").read_text())
    for target in targets:
        for dep in target.get("deps", []):
            if dep.startswith("@pip//"):
                assert dep.removeprefix("@pip//").lower().replace("_", "-") in pinned, dep


@pytest.fixture
def fake_repo(tmp_path):
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "tfnas" / "cli.py").write_text('if __name__ == "__main__":\n    pass\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_cli.py").write_text("")
    (tmp_path / "BUILD").write_text(
        'py_library(name = "tfnas", srcs = ["tfnas/__init__.py", "deploy/__init__.py",'
        ' "tflite_bench/__init__.py", "benchmarks/__init__.py"])\n'
        'py_binary(name = "cli", srcs = ["tfnas/cli.py"], main = "tfnas/cli.py",'
        ' deps = [":tfnas"])\n'
        'py_test(name = "test_cli", srcs = ["tests/test_cli.py"], deps = [":cli"])\n'
    )
    return tmp_path


def test_checker_accepts_a_consistent_tree(fake_repo):
    assert build_problems(fake_repo) == []


def test_checker_catches_each_kind_of_drift(fake_repo):
    (fake_repo / "tfnas" / "new_module.py").write_text("")
    (fake_repo / "tests" / "test_new.py").write_text("")
    (fake_repo / "deploy" / "export.py").write_text('if __name__ == "__main__":\n    pass\n')
    (fake_repo / "tfnas" / "data").mkdir()
    (fake_repo / "tfnas" / "data" / "table.json").write_text("{}")
    build = (fake_repo / "BUILD").read_text().replace('"tfnas/__init__.py", ', '"tfnas/gone.py", ')
    (fake_repo / "BUILD").write_text(build + 'py_library(name = "x", deps = [":nothing"])\n')
    assert build_problems(fake_repo) == [
        "BUILD lists tfnas/gone.py, which does not exist",
        "deploy/export.py is in no py_library or py_binary",
        "deploy/export.py is an entry point without a py_binary",
        "tfnas/__init__.py is in no py_library or py_binary",
        "tfnas/new_module.py is in no py_library or py_binary",
        "tfnas/data/table.json is a package data file in no target's data",
        "tests/test_new.py has no py_test named test_new listing it",
        "x depends on undefined target :nothing",
    ]


def test_glob_is_refused(fake_repo):
    (fake_repo / "BUILD").write_text('py_library(name = "a", srcs = glob(["tfnas/*.py"]))\n')
    with pytest.raises(AssertionError, match="explicitly"):
        build_problems(fake_repo)
