"""What the long benchmarks share: parts that are checked when reused, progress, statistics.

A long benchmark is a sequence of parts, each a command a user runs
(`python -m tfnas.train ...`) in its own process, writing one folder. A part
that finished is reused, one that was interrupted is continued with
`--resume`, and each records how it was run (`NAME.part.json` beside its
folder): the module, the arguments, the SHA-256 of every file an argument
names, and the commit it started from. Reusing a part whose record differs
from what the benchmark would run now is refused, naming the difference,
and so is a training, search or comparison whose saved `config.json` is
not the config its command resolves from the same arguments now (a changed
experiment preset). A part started from another commit that passes both
checks is reused and its commit reported (`part_commits`), since a commit
that changed nothing a part runs should not cost hours.

A runs folder is not committed, and a fresh clone or checkout has none: a
`PartLedger` (a committed JSON file) keeps each finished part's record and
the small files that report it, and `run_part` restores a missing folder from
it, then checks it as it checks any folder. Hours of trainings so outlive the
machine they ran on; their checkpoints and models do not.

The statistics are those a comparison of NAS methods needs (Yang et al.
2020): a sample's mean and spread, two samples compared with a pooled
seed-variance t test, Welch's t test and the Mann-Whitney rank test; the
one-way F test of whether networks differ by more than their seeds; and
Kendall's tau with a bootstrap interval.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tfnas.errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent
RECORD_SUFFIX = ".part.json"


class PartError(UserError, RuntimeError):
    """A part that failed, cannot be reused as it is, or is neither finished nor resumable."""


def current_commit(repo: Path = REPO_ROOT) -> str:
    """`git rev-parse HEAD`, with `-dirty` when tracked files differ from it; else `unknown`."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if changed else "")


def declared_part(module: str, args: Sequence[str], outputs: Sequence[Path] = ()) -> dict[str, Any]:
    """What defines a part: its module, its arguments, and the content of each file they name.

    Files in or at `outputs` are what the part writes, not what it reads, so
    their content does not define it.
    """
    written = [Path(path).resolve() for path in outputs]
    files = {}
    for arg in args:
        value = arg.partition("=")[2]
        if not value or not Path(value).is_file():
            continue
        path = Path(value).resolve()
        if not any(path == out or path.is_relative_to(out) for out in written):
            files[value] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"module": module, "args": list(args), "files": files}


# Commands whose folder keeps the config they ran with (`config.json`), by the
# module that resolves it: a reused part is checked against what it would
# resolve now, so a changed experiment preset is caught, not only changed flags.
RUN_CONFIGS = {
    "tfnas.train": ("tfnas.train.config", "TrainConfig"),
    "tfnas.search": ("tfnas.search.config", "SearchConfig"),
    "tfnas.compare": ("tfnas.compare.config", "CompareConfig"),
}
DEFAULT_EXPERIMENT = "demo"  # the commands' --experiment default


def config_now(module: str, args: Sequence[str]) -> Any | None:
    """The config `python -m module args` would run with now; None for a command without one.

    Parsed as the command parses it: the config's flags (`--params_override`
    included) over the `--experiment` preset; other flags are the command's own.
    """
    import importlib

    from absl import flags

    from tfnas.config.flags import define_config_flags, flag_overrides

    if module not in RUN_CONFIGS:
        return None
    module_name, class_name = RUN_CONFIGS[module]
    config_module = importlib.import_module(module_name)
    cls = getattr(config_module, class_name)
    aliases = getattr(config_module, "ALIASES", None)
    values = flags.FlagValues()
    define_config_flags(cls, aliases=aliases, flag_values=values)
    flags.DEFINE_string("experiment", DEFAULT_EXPERIMENT, "", flag_values=values)

    def is_config_flag(arg: str) -> bool:
        name = arg.lstrip("-").partition("=")[0]
        return name in values or (name.startswith("no") and name[2:] in values)

    values(["benchmark", *filter(is_config_flag, args)])
    return config_module.resolve(values.experiment, **flag_overrides(cls, aliases, values))


def check_config(module: str, args: Sequence[str], out: Path) -> None:
    """Refuses a part whose saved `config.json` is not the config its command resolves now.

    Raises:
        PartError: Naming each value that differs, saved then now.
    """
    import importlib

    from tfnas.config.tree import ConfigError, differences, flatten

    saved_path = out / "config.json"
    if module not in RUN_CONFIGS or not saved_path.exists():
        return
    try:
        now = config_now(module, args)
    except ConfigError as error:
        raise PartError(f"{out}: python -m {module} would not run now: {error}") from None

    saved = importlib.import_module(RUN_CONFIGS[module][0]).load_config(str(saved_path))
    changed = differences(saved, flatten(now))
    if changed:
        raise PartError(
            f"{out} ran with another config than python -m {module} resolves now ("
            + "; ".join(changed)
            + f"): delete {out} and {record_path(out).name} to rerun it, or use another --runs_dir"
        )


def record_path(out: Path) -> Path:
    """Where a part's record lives: beside its folder (the command owns the folder)."""
    return out.parent / f"{out.name}{RECORD_SUFFIX}"


def check_record(out: Path, declared: dict[str, Any]) -> dict[str, Any]:
    """The part's record, when it declares what the benchmark would run now.

    Raises:
        PartError: The folder has no record, or its record declares another run.
    """
    path = record_path(out)
    if not path.exists():
        raise PartError(
            f"{out} has no record of how it was run ({path.name}); delete the folder to rerun it"
        )
    record = json.loads(path.read_text())
    differences = [
        f"{field}: {record.get(field)!r} then, {declared[field]!r} now"
        for field in declared
        if record.get(field) != declared[field]
    ]
    if differences:
        raise PartError(
            f"{out} was run otherwise than this benchmark would run it now ("
            + "; ".join(differences)
            + f"); delete {out} and {path.name} to rerun it, or use another --runs_dir"
        )
    return record


def run_logged(module: str, args: list[str], log_file: Path, ok: tuple[int, ...] = (0,)) -> None:
    """Runs `python -m module args`; its output goes to `log_file`; `ok`: exit codes of success."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a") as log:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode not in ok:
        tail = log_file.read_text().strip().splitlines()[-5:]
        raise PartError(
            f"python -m {module} exited with {done.returncode}; its log: {log_file}\n"
            + "\n".join(tail)
        )


def run_part(
    module: str,
    args: list[str],
    out: Path,
    done_file: str,
    resume: bool,
    output_flag: str | None = "--output_dir",
    resume_flag: str | None = "--resume",
    changes: Sequence[Path] = (),
    ledger: PartLedger | None = None,
    kept: Sequence[str] = (),
) -> dict[str, Any]:
    """One command that writes `out/done_file`: run, continued with `resume`, or reused.

    Args:
        module: The command's module (`python -m module`).
        args: Its arguments.
        out: The folder it writes.
        done_file: The file in `out` that it writes last.
        resume: Continue an unfinished part.
        output_flag: The flag that gets `out` (None: `args` name it already).
        resume_flag: The flag that continues an unfinished run (None: the
            command continues by itself, or starts over).
        changes: Files outside `out` that the command rewrites (a table it
            calibrates): their content then is not what defined the part.
        ledger: Where the finished part is kept (its done file and
            `config.json`), and whence a missing `out` is restored.
        kept: Other JSON files in `out` that later parts read (a search's
            `arch.json`), kept in `ledger` too.

    Returns:
        The contents of `done_file`, with the part's record under `part`.

    Raises:
        PartError: The command failed, the folder is unfinished without
            `resume`, or its record declares another run.
    """
    declared = declared_part(module, args, [out, *changes])
    finished = out / done_file
    if ledger is not None and not out.exists():
        ledger.restore(out, module, args, declared)
    if out.exists():
        record = check_record(out, declared)
        check_config(module, args, out)
        if not finished.exists() and not resume:
            raise PartError(f"{out} holds an unfinished run: pass --resume to continue it")
    else:
        record = declared | {"commit": current_commit(), "started": _now()}
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_json(record_path(out), record)
    if not finished.exists():
        began = time.monotonic()
        command = list(args)
        if output_flag is not None:
            command.append(f"{output_flag}={out}")
        if resume_flag is not None and out.exists():
            command.append(resume_flag)
        run_logged(module, command, out.parent / f"{out.name}.log")
        if not finished.exists():
            raise PartError(f"python -m {module} ended without writing {finished}")
        record["minutes"] = record.get("minutes", 0.0) + (time.monotonic() - began) / 60
        record["finished"] = _now()
        _write_json(record_path(out), record)
    if ledger is not None:
        ledger.keep(out, record, [done_file, "config.json", *kept])
    result = json.loads(finished.read_text())
    result["part"] = record
    return result


LEDGER_FORMAT = "tfnas-part-ledger/1"


class PartLedger:
    """Finished parts kept in one committed JSON file, so that a benchmark outlives its runs folder.

    Each entry, under the part's folder relative to `runs`, holds the part's
    record and the JSON files that report and define it (the done file,
    `config.json`). A part restored from it is reused for its result only:
    its checkpoints and model are not kept.

    Args:
        path: The ledger file (`benchmarks/results/parts/NAME.json`).
        runs: The runs folder whose parts it keeps.
    """

    def __init__(self, path: Path, runs: Path) -> None:
        self.path, self.runs = Path(path), Path(runs)

    def key(self, out: Path) -> str:
        """The entry of the part in `out`: its folder relative to `runs`."""
        try:
            return out.resolve().relative_to(self.runs.resolve()).as_posix()
        except ValueError:
            raise ValueError(
                f"part folder {out} is not under the ledger's runs folder {self.runs}: "
                "give the ledger the benchmark's --runs_dir"
            ) from None

    def entries(self) -> dict[str, Any]:
        """Every kept part, by `key`.

        Raises:
            PartError: The file is not a ledger of this format.
        """
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text())
        if not isinstance(data, dict) or data.get("format") != LEDGER_FORMAT:
            raise PartError(
                f"{self.path}: expected a part ledger of format {LEDGER_FORMAT!r}, got "
                f"{data.get('format') if isinstance(data, dict) else type(data).__name__!r}; "
                "move it aside to start a new one"
            )
        return data["parts"]

    def keep(self, out: Path, record: dict[str, Any], files: Sequence[str]) -> None:
        """Keeps the finished part in `out`: its record and those of `files` it holds."""
        entry = {
            "record": record,
            "files": {
                name: json.loads((out / name).read_text())
                for name in files
                if (out / name).is_file()
            },
        }
        parts = self.entries()
        key = self.key(out)
        if parts.get(key) == entry:
            return
        parts[key] = entry
        _write_json(self.path, {"format": LEDGER_FORMAT, "parts": dict(sorted(parts.items()))})

    def restore(
        self, out: Path, module: str, args: Sequence[str], declared: dict[str, Any]
    ) -> bool:
        """Writes the kept part back into the missing folder `out`, if it would run so now.

        A kept part that the benchmark would now run otherwise (another
        declaration or config) is not restored: it runs again, and its entry
        is replaced when it finishes.

        Returns:
            Whether `out` was restored.
        """
        entry = self.entries().get(self.key(out))
        if entry is None:
            return False
        out.mkdir(parents=True)
        for name, content in entry["files"].items():
            _write_json(out / name, content)
        _write_json(record_path(out), entry["record"])
        try:
            check_record(out, declared)
            check_config(module, args, out)
        except PartError as error:
            shutil.rmtree(out)
            record_path(out).unlink()
            print(f"{self.path}: not reused, so it runs again: {error}", flush=True)
            return False
        return True


def part_commits(results: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many of the parts' results came from each commit."""
    commits: dict[str, int] = {}
    for result in results:
        commit = result["part"]["commit"]
        commits[commit] = commits.get(commit, 0) + 1
    return commits


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_json(path: Path, data: Any) -> None:
    from tfnas.io.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


class Progress:
    """Prints each part as it starts, with its number and the time since the benchmark began."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.began = total, 0, time.monotonic()

    def __call__(self, what: str) -> None:
        """Announces the next part."""
        self.done += 1
        minutes = (time.monotonic() - self.began) / 60
        print(f"[{self.done}/{self.total}] {what} ({minutes:.1f} min in)", flush=True)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), least and most, and the count."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def pooled_seed_variance(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """The variance between seeds of one network, pooled over networks, and its degrees of freedom.

    The per-network sample variances averaged with their degrees of freedom as
    weights (one-way ANOVA's within-group mean square).

    Raises:
        ValueError: No network has two seeds.
    """
    repeated = [g for g in groups if len(g) > 1]
    if not repeated:
        raise ValueError("expected at least one network trained with two seeds or more, got none")
    dof = sum(len(g) - 1 for g in repeated)
    return sum(statistics.variance(g) * (len(g) - 1) for g in repeated) / dof, dof


def compare_samples(
    first: Sequence[float], second: Sequence[float], seed_variance: tuple[float, int] | None = None
) -> dict[str, float]:
    """Whether `first` (e.g. the searched networks' accuracies) differs from `second`.

    Args:
        first: One method's results (each a network's accuracy, or a run's).
        second: The other's.
        seed_variance: (variance, degrees of freedom) of one result between
            seeds, pooled over every network trained with several seeds;
            with it, `pooled_p` tests whether the difference exceeds what
            seeds alone give (a t test with that variance and those degrees).

    Returns:
        `difference` (of the means), `n_first`, `n_second`, and two-sided
        p-values: `pooled_p` (with `seed_variance`), `welch_p` (Welch's t test;
        NaN when either sample has fewer than 2 values or no spread),
        `rank_p` (Mann-Whitney U, exact for small samples).
    """
    from scipy import stats

    a, b = np.asarray(first, float), np.asarray(second, float)
    result = {"difference": float(a.mean() - b.mean()), "n_first": len(a), "n_second": len(b)}
    result["welch_p"] = float("nan")
    if len(a) > 1 and len(b) > 1 and (a.std() > 0 or b.std() > 0):
        result["welch_p"] = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    result["rank_p"] = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    result["pooled_p"] = float("nan")
    if seed_variance is not None:
        variance, dof = seed_variance
        t = result["difference"] / np.sqrt(variance * (1 / len(a) + 1 / len(b)))
        result["pooled_t"] = float(t)
        result["pooled_p"] = float(2 * stats.t.sf(abs(t), dof))
    return result


def networks_differ(groups: Sequence[Sequence[float]]) -> dict[str, float]:
    """One-way F test: do the networks (groups of seeds) differ by more than their seeds do?

    Returns:
        `f`, `p`, the degrees of freedom, the standard deviation of the
        networks' means (`between_std`) and the pooled one between seeds
        (`seed_std`).

    Raises:
        ValueError: Fewer than 2 networks, or no network with 2 seeds.
    """
    from scipy import stats

    if len(groups) < 2:
        raise ValueError(f"expected at least 2 networks, got {len(groups)}")
    variance, dof = pooled_seed_variance(groups)
    f, p = stats.f_oneway(*[np.asarray(g, float) for g in groups])
    means = [statistics.fmean(g) for g in groups]
    return {
        "f": float(f),
        "p": float(p),
        "dof_between": len(groups) - 1,
        "dof_within": sum(len(g) for g in groups) - len(groups),
        "between_std": statistics.stdev(means),
        "seed_std": variance**0.5,
        "seed_dof": dof,
    }


def kendall_tau(
    first: Sequence[float], second: Sequence[float], resamples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Kendall's tau-b of two rankings, its p-value and a 95% bootstrap interval (seeded).

    Raises:
        ValueError: Sequences of different lengths, fewer than 3 items, or a
            sequence whose items are all equal (it ranks nothing).
    """
    from scipy import stats

    x, y = np.asarray(first, float), np.asarray(second, float)
    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"expected two sequences of one length >= 3, got {len(x)} and {len(y)}")
    for name, values in (("first", x), ("second", y)):
        if np.all(values == values[0]):
            raise ValueError(f"the {name} sequence is {values[0]:g} throughout: it ranks nothing")
    tau, p = stats.kendalltau(x, y)
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(resamples):
        pick = rng.integers(len(x), size=len(x))
        value = stats.kendalltau(x[pick], y[pick])[0]
        if np.isfinite(value):
            taus.append(value)
    low, high = np.percentile(taus, [2.5, 97.5])
    return {"tau": float(tau), "p": float(p), "low": float(low), "high": float(high), "n": len(x)}


def flag_pairs(flags: Sequence[str]) -> list[tuple[str, str]]:
    """`--name=value` flags (a benchmark's `--train_flags`) as (name, value) pairs.

    Raises:
        ValueError: A flag not of that form, named.
    """
    bad = [flag for flag in flags if not flag.startswith("--") or "=" not in flag]
    if bad:
        raise ValueError(f"--train_flags={','.join(bad)}: expected tfnas.train flags, --name=value")
    return [(name, value) for name, _, value in (flag[2:].partition("=") for flag in flags)]


def require_fashion_mnist() -> None:
    """Exits with one error line when the Fashion-MNIST files are not installed."""
    from tfnas.datasets.idx import FASHION_MNIST_DIR

    if not Path(FASHION_MNIST_DIR).is_dir():
        sys.exit(
            f"error: no Fashion-MNIST files in {FASHION_MNIST_DIR}; install them with "
            "`apt-get install dataset-fashion-mnist` (Debian, offline)"
        )


def write_results(
    figures: dict[str, Any],
    summarize: Callable[[dict[str, Any]], dict[str, Any]],
    markdown: Callable[[dict[str, Any], dict[str, Any]], str],
    plot: Callable[[dict[str, Any], Path], Path],
    name: str,
    output_dir: Path,
) -> None:
    """Prints the report and writes `name.json` (figures and summary), `name.md`, `name.png`."""
    summary = summarize(figures)
    text = markdown(figures, summary)
    print(text, flush=True)
    results = {**figures, "summary": summary}
    _write_json(output_dir / f"{name}.json", results)
    from tfnas.io.atomic import write_text_atomic

    write_text_atomic(output_dir / f"{name}.md", text)
    plot(figures, output_dir / f"{name}.png")


def benchmark_main(
    run: Callable[[Path, bool], dict[str, Any]],
    summarize: Callable[[dict[str, Any]], dict[str, Any]],
    markdown: Callable[[dict[str, Any], dict[str, Any]], str],
    plot: Callable[[dict[str, Any], Path], Path],
    name: str,
) -> None:
    """What a Fashion-MNIST benchmark's `main` does: check the files, run, print and write.

    Writes `name.json` (figures and summary), `name.md` and `name.png` in
    `--output_dir`; `run` gets `--runs_dir` and `--resume`.
    """
    from absl import flags

    values = flags.FLAGS
    require_fashion_mnist()
    try:
        figures = run(Path(values.runs_dir), values.resume)
    except PartError as error:
        sys.exit(f"error: {error}")
    write_results(figures, summarize, markdown, plot, name, Path(values.output_dir))


def benchmark_command(
    run: Callable[[Path, bool], dict[str, Any]],
    summarize: Callable[[dict[str, Any]], dict[str, Any]],
    markdown: Callable[[dict[str, Any], dict[str, Any]], str],
    plot: Callable[[dict[str, Any], Path], Path],
    name: str,
    runs_dir: str,
) -> None:
    """A Fashion-MNIST benchmark's `__main__`: its flags, then `benchmark_main`."""
    from absl import app

    define_benchmark_flags(runs_dir)
    app.run(lambda argv: benchmark_main(run, summarize, markdown, plot, name))


def define_benchmark_flags(runs_dir: str) -> None:
    """--output_dir, --runs_dir (default `runs_dir`) and --resume (call from `__main__`)."""
    from absl import flags

    flags.DEFINE_string("output_dir", "benchmarks/results", "Where the results files go.")
    flags.DEFINE_string("runs_dir", runs_dir, "Where the runs write.")
    flags.DEFINE_bool("resume", False, "Continue an interrupted run from its checkpoint.")


# The real-data benchmarks' experiment: Fashion-MNIST, offline (`require_fashion_mnist`).
EXPERIMENT = "fashion_mnist"


def draw_choices(num_candidates: Sequence[int], draws: int, seed: int) -> list[list[int]]:
    """`draws` distinct architectures, uniform over the space (each block independently)."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, ...]] = set()
    result = []
    for _ in range(draws):
        choices = tuple(int(rng.integers(n)) for n in num_candidates)
        if choices not in seen:
            seen.add(choices)
            result.append(list(choices))
    return result


def independent_accuracy(
    arch: str, weights: str, images: np.ndarray, labels: np.ndarray, batch: int = 500
) -> float:
    """Accuracy of a network rebuilt from its two files, on raw uint8 images.

    Shares nothing with the run that reported an accuracy but the files and
    the documented normalization: a Keras model built from `arch` with
    `weights` loaded, called in inference mode on `images` scaled here with
    the channel statistics (`tfnas.datasets.pipeline.channel_statistics`).
    """
    from tfnas.datasets.pipeline import channel_statistics
    from tfnas.nets.builder import build_net
    from tfnas.nets.load import load_net

    model = build_net(load_net(arch))
    model.load_weights(weights)
    mean, stddev = (np.asarray(v, np.float32) for v in channel_statistics(images.shape[-1]))
    correct = 0
    for start in range(0, len(images), batch):
        x = (images[start : start + batch].astype(np.float32) - mean) / stddev
        logits = np.asarray(model(x, training=False))
        correct += int((logits.argmax(-1) == labels[start : start + batch]).sum())
    return correct / len(images)


def supernet_accuracies(
    compare: Path, choices: dict[str, list[int]], ranking: Path
) -> dict[str, float]:
    """Held-out accuracy of each network with the final supernet's weights (as the search saw it).

    The last checkpoint of the search of the comparison in `compare` is
    copied to `ranking` and restored there, so that nothing is written into
    the search's own folder; each network is evaluated as the search
    evaluates its own (inherited weights, re-estimated batch norm, inference
    mode).
    """
    import shutil

    from tfnas.compare.config import load_config
    from tfnas.engine.job import start_job
    from tfnas.search.job import SEARCH

    config = load_config(compare / "config.json").search()
    if not (ranking / "checkpoints").exists():
        shutil.copytree(compare / "proxylessnas" / "checkpoints", ranking / "checkpoints")
    run, pipeline, _ = start_job(SEARCH, config, ranking, verbose=0)
    if not run.restore():
        raise PartError(f"no checkpoint of the search in {ranking}; remove the folder")
    return {name: run.evaluate(pipeline.valid_batches(), c) for name, c in choices.items()}


def ops_run(arch: str) -> list[str]:
    """The ops a network runs after its fixed first block, in order; skipped (Zero) blocks left out.

    A derived network's file leaves its skipped blocks out, a drawn one's keeps
    them as `Zero`: listing only what runs reads the same for both.
    """
    blocks = json.loads(Path(arch).read_text())["blocks"][1:]
    return [block["op"] for block in blocks if block["op"] != "Zero"]
