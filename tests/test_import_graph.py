"""The project's modules import each other without cycles, and only downward.

A cycle hides behind imports inside functions (they run late, so nothing
fails at import time), which is how the two cycles this test first found had
grown: `deploy.export` <-> `deploy.qat` and `tflite_bench.adb` <->
`tflite_bench.runners`. Every import counts here, wherever it sits; and
project imports sit at the top of their files, but for the few named in
`LAZY_IMPORTS` that keep the light commands free of TensorFlow.
"""

import ast
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tfnas", "deploy", "tflite_bench")
# docs/architecture.md draws these. A group imports only groups of lower layers;
# groups of one layer do not import each other. Listed most specific first: a
# module belongs to the first group that is a prefix of its name.
LAYERS: dict[str, int] = {
    "tfnas.__main__": 11,  # `python -m tfnas`: runs tfnas.cli
    "tfnas.cli": 10,  # `tfnas COMMAND`: names the commands' modules, imports none of them
    "tfnas.compare": 9,  # the ProxylessNAS vs keras-tuner benchmark: a tool on top
    "tfnas.loop": 9,  # search, measure on the device, refresh the table: on top of both
    "tfnas.nets.__main__": 9,  # `tfnas net`: summarize, tabulate, convert and draw specs
    "deploy": 8,
    "tflite_bench": 8,
    "tfnas.search": 7,  # the jobs
    "tfnas.train": 7,
    "tfnas.baselines": 6,  # keras-tuner's hypermodel of the same spaces
    "tfnas.latency": 5,  # tables, cost models, the latency objectives
    "tfnas.engine": 4,  # recipe, epoch loop, guard, checkpoints, losses, BN re-estimation
    "tfnas.config": 3,  # the config tree, the groups jobs share, flags
    "tfnas.records": 3,  # what runs write: epochs and summaries
    "tfnas.plots": 3,
    "tfnas.nets": 2,  # networks as data, and the Keras models built from them
    "tfnas.datasets": 2,
    "tfnas.io": 1,  # atomic writes, strict JSON fields
    "tfnas.errors": 0,
    "tfnas.quiet": 0,
    "tfnas": 1,  # the package itself; last, since every other tfnas group is inside it
}


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports (at the top, in functions, anywhere)."""
    modules = module_files(root)

    def owner(name: str) -> str | None:  # `pkg.mod.attr` -> `pkg.mod`
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PACKAGES and (found := owner(target)) != name:
                    graph[name].add(found)
    return graph


# The only project modules imported inside functions, and why: `tfnas net`
# answers `summary`, `table` and `convert` in a tenth of a second because it
# does not load TensorFlow (importing Keras takes 3 to 9 s on 2 cores); it
# loads the builder only for `table --build` and matplotlib only for `draw`.
LAZY_IMPORTS = {
    ("tfnas.nets.__main__", "tfnas.nets.builder"),
    ("tfnas.nets.__main__", "tfnas.plots"),
}


def imports_in_functions(root: Path) -> set[tuple[str, str]]:
    """(module, project module it imports inside a function) of every package module."""
    found = set()
    for name, path in module_files(root).items():
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    targets = [node.module]
                else:
                    continue
                found.update((name, t) for t in targets if t.split(".")[0] in PACKAGES)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (top := stack.pop()) != node:
                component.append(top)
            if component:
                found.append(sorted([*component, node]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def group_of(module: str) -> str:
    """The first group of LAYERS that `module` is, or is inside."""
    for group in LAYERS:
        if module == group or module.startswith(group + "."):
            return group
    raise AssertionError(f"{module} is in no group of LAYERS: add it (and to the picture)")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a group of the same or a higher layer, as `a -> b (layer x -> y)`."""
    found = []
    for module, imported in sorted(graph.items()):
        here = group_of(module)
        for other in sorted(imported):
            there = group_of(other)
            if there != here and LAYERS[there] >= LAYERS[here]:
                found.append(f"{module} -> {other} (layer {LAYERS[here]} -> {LAYERS[there]})")
    return found


def test_no_module_imports_back_into_what_imports_it():
    assert cycles(import_graph(REPO_ROOT)) == []


def test_every_import_points_down_the_layers():
    assert upward_imports(import_graph(REPO_ROOT)) == []


def test_project_imports_are_at_the_top_of_files_but_the_named_lazy_ones():
    assert imports_in_functions(REPO_ROOT) - LAZY_IMPORTS == set()


def test_an_import_inside_a_function_is_found(tmp_path):
    (tmp_path / "tfnas").mkdir()
    (tmp_path / "tfnas" / "__init__.py").write_text("")
    (tmp_path / "tfnas" / "a.py").write_text("import json\n\ndef f():\n    from tfnas.b import x\n")
    (tmp_path / "tfnas" / "b.py").write_text("x = 1\n")
    assert imports_in_functions(tmp_path) == {("tfnas.a", "tfnas.b")}


def test_the_architecture_page_draws_every_group():
    page = (REPO_ROOT / "docs" / "architecture.md").read_text()
    missing = [group for group in LAYERS if f"`{group}`" not in page]
    assert missing == [], f"docs/architecture.md does not name {missing}"


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path):
    (tmp_path / "tfnas").mkdir()
    (tmp_path / "tfnas" / "__init__.py").write_text("")
    (tmp_path / "tfnas" / "a.py").write_text("from tfnas.b import thing\n")
    (tmp_path / "tfnas" / "b.py").write_text("def thing():\n    from tfnas import a\n")
    (tmp_path / "tfnas" / "c.py").write_text("import tfnas.a\n")
    graph = import_graph(tmp_path)
    assert graph["tfnas.b"] == {"tfnas.a"} and graph["tfnas.c"] == {"tfnas.a"}
    assert cycles(graph) == [["tfnas.a", "tfnas.b"]]


def test_an_import_of_a_tool_from_the_library_is_upward():
    graph = {
        "tfnas.nets.spec": {"tflite_bench.runners"},
        "tflite_bench.runners": {"tfnas.nets.spec"},
    }
    assert upward_imports(graph) == ["tfnas.nets.spec -> tflite_bench.runners (layer 2 -> 8)"]
    siblings = {"deploy.export": {"tflite_bench.measure"}, "tflite_bench.measure": set()}
    assert upward_imports(siblings) == ["deploy.export -> tflite_bench.measure (layer 8 -> 8)"]


def test_the_light_commands_do_not_load_tensorflow():
    """`tfnas net`, `tfnas latency` and timing a .tflite answer without TensorFlow (seconds)."""
    light = ["tfnas.cli", "tfnas.nets.__main__", "tfnas.latency.__main__", "tflite_bench.measure"]
    code = f"import sys\nfor m in {light!r}: __import__(m)\nprint('tensorflow' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
