"""The device in the loop: search, measure the derived network on the device, refresh, search on.

    python -m tfnas.loop --experiment=demo --target_latency=0.4 --device=host \
        [--base=cpu] [--table=DEVICE_TABLE.json] [--rounds=3] [--tolerance=0.05] \
        [--extra_epochs=1] [--pick_steps=4] [--passes=5] [--time_deployed] \
        [--output_dir=runs/loop] [--resume] \
        [any tfnas.search flag]

Each round:

1. searches (round 1: the whole search; later rounds: `--extra_epochs`
   more epochs continued from the search's checkpoint) for `--target_latency`
   on the device's own table (`--table`, by default OUTPUT_DIR/device_table.json,
   started from `--base` for a device that has none: `tfnas.latency.adapt`);
2. picks the network to measure, measures on the device the parts of it
   that the table lacks, and picks again on the refreshed table, until the
   pick lacks none (at most `--pick_steps` picks);
3. converts that network and times it on the device (`tflite_bench.refresh`):
   latency does not depend on trained weights, so nothing is retrained to
   measure it;
4. stops when the measured latency is within `--tolerance` of the target.

A round picks the search's derived network when the table predicts it
within a quarter of the tolerance of the target; otherwise the most likely
network (by the search's architecture probabilities) that it predicts there
(`tfnas.search.constrained`): the derived network alone lands only as close
as the space's steps allow. Writes `arch.json` (the last round's network, to
train with `tfnas.train --arch`; `round-N.json` for each round),
`loop_report.json` (target, per round the network timed and why, its
prediction, its measurement, what was measured, and its accuracy and the
derived network's with the supernet's weights and re-estimated batch norm)
and `loop_rounds.png` (predicted and measured latency over the rounds) in
OUTPUT_DIR; the search's outputs are in OUTPUT_DIR/search. A round already
in the report is not run again with `--resume`; a device that disconnects
keeps what it measured in the table.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy.convert import serving_model, to_tflite
from tflite_bench.device_flags import runner_from_flags
from tflite_bench.refresh import (
    DEFAULT_BASE,
    DEFAULT_PASSES,
    Refresh,
    measure_parts,
    network_keys,
    open_table,
    refresh,
    time_whole,
)
from tflite_bench.runners import Runner
from tfnas.config.flags import flag_overrides
from tfnas.config.tree import ConfigError, with_values
from tfnas.engine.command import run_command
from tfnas.engine.job import run_job
from tfnas.engine.runtime import configure_run
from tfnas.io.atomic import write_text_atomic
from tfnas.latency.keys import LayerKey
from tfnas.latency.model import SpaceLatency, space_latency
from tfnas.latency.table import load_table, save_table
from tfnas.latency.targets import load_target
from tfnas.loop.pick import Pick, on_target, pick_network
from tfnas.nets.builder import build_net
from tfnas.nets.spec import NetSpec, SearchSpace
from tfnas.nets.spec_json import save_spec
from tfnas.plots import label_axes, save_figure
from tfnas.records import SearchSummary
from tfnas.search.config import ALIASES, SearchConfig, check, resolve
from tfnas.search.job import SEARCH

REPORT_FILE = "loop_report.json"
ARCH_FILE = "arch.json"
PLOT_FILE = "loop_rounds.png"
SEARCH_DIR = "search"
DEFAULT_TOLERANCE = 0.05


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """How the loop runs (the search's own settings are its config).

    Attributes:
        table: The device's table (started from `base` when missing).
        base: The target a new table starts from.
        rounds: At most this many searches and measurements.
        tolerance: Stop when |measured - target| <= tolerance * target.
        extra_epochs: Search epochs each later round adds.
        pick_tolerance: The window a round's network is picked in (a fraction
            of the target; default a quarter of `tolerance`, leaving the rest
            for the table's error: with every part measured and a calibration,
            a 2-core Xeon's table predicted 30 unseen networks of 0.09-0.32 ms
            within ±4.2%, docs/device-loop.md).
        pick_steps: At most this many picks a round tries: after each, the
            parts of the picked network that the table lacks are measured
            and the network is picked again on the refreshed table.
        passes: Timings of each round's network; their median decides.
        time_deployed: Also time each round's network as `deploy.export`
            writes it (normalization and softmax inside, its batch at 1),
            beside the bare conversion the table learns from and the
            stopping rule reads.
    """

    table: Path
    base: str = DEFAULT_BASE
    rounds: int = 3
    tolerance: float = DEFAULT_TOLERANCE
    extra_epochs: int = 1
    pick_tolerance: float | None = None
    pick_steps: int = 4
    passes: int = DEFAULT_PASSES
    time_deployed: bool = False

    def __post_init__(self) -> None:
        if self.pick_tolerance is None:
            object.__setattr__(self, "pick_tolerance", self.tolerance / 4)
        if self.rounds < 1:
            raise ConfigError(f"--rounds={self.rounds}: expected an integer >= 1")
        if not 0 < self.tolerance < 1:
            raise ConfigError(f"--tolerance={self.tolerance}: expected a fraction in (0, 1)")
        if self.extra_epochs < 1:
            raise ConfigError(f"--extra_epochs={self.extra_epochs}: expected an integer >= 1")
        if self.passes < 1:
            raise ConfigError(f"--passes={self.passes}: expected an integer >= 1")
        if self.pick_steps < 1:
            raise ConfigError(f"--pick_steps={self.pick_steps}: expected an integer >= 1")


def settle_pick(
    searched: Any,
    space: SearchSpace,
    latency: SpaceLatency,
    target: float,
    settings: LoopSettings,
    measure_missing: Callable[[list[LayerKey]], tuple[LayerKey, ...]],
    log: Callable[[str], None],
) -> tuple[Pick, list[dict[str, Any]]]:
    """The round's network, picked on a table that has measured each of its parts.

    A part the device has not measured is predicted from another device's
    latency, rescaled (`tfnas.latency.adapt`): off by 10% or more for a
    kernel the device runs unlike the rest. So the parts a pick lacks are
    measured (`measure_missing`, one quick timing each, far cheaper than a
    round) and the network is picked again on the refreshed table, until a
    pick lacks none or `settings.pick_steps` picks were tried (the last
    pick's missing parts are then measured with it).

    Returns:
        The pick and, per step, what was picked, its prediction and the
        parts measured after it.
    """
    steps: list[dict[str, Any]] = []
    for step in range(1, settings.pick_steps + 1):
        pick = pick_network(searched, latency, target, settings.pick_tolerance)
        known = load_table(settings.table)
        missing = [key for key in network_keys(space.select(pick.choices)) if key not in known]
        record = {
            "choices": pick.choices,
            "predicted_ms": pick.predicted,
            "picked": pick.how,
            "measured_parts": [],
        }
        steps.append(record)
        if not missing or step == settings.pick_steps:
            return pick, steps
        log(
            f"picked a network predicted at {pick.predicted:.4f} ms with {len(missing)} parts "
            "this device has not measured: measuring them, then picking again"
        )
        record["measured_parts"] = [str(key) for key in measure_missing(missing)]
        latency = space_latency(load_target(str(settings.table)), space)
    raise AssertionError("unreachable: the last step returns")


@dataclasses.dataclass(frozen=True)
class SearchOutcome:
    """What a round's search gives the loop.

    Attributes:
        summary: The search's summary (`tfnas.records.SearchSummary`).
        space: Its space.
        latency: Every candidate's latency on the table it searched with.
        accuracy_of: A network's accuracy (`choices`) with the supernet's
            weights and its own re-estimated batch norm, as the search
            evaluates its derived network: `{"valid_accuracy": ...,
            "test_accuracy": ...}`, None where the search holds no such split.
    """

    summary: Any
    space: SearchSpace
    latency: SpaceLatency
    accuracy_of: Callable[[list[int]], dict[str, float | None]]


def round_record(
    number: int,
    epochs: int,
    searched: Any,
    pick: Pick,
    steps: list[dict[str, Any]],
    result: Refresh,
    accuracy: dict[str, float | None],
) -> dict[str, Any]:
    """What the report keeps of one round.

    `accuracy` is the picked network's (`SearchOutcome.accuracy_of`); the
    derived network's is the search summary's.
    """
    before = [part for step in steps for part in step["measured_parts"]]
    return {
        "round": number,
        "search_epochs": epochs,
        "derived_ops": list(searched.ops),
        "derived_predicted_ms": searched.latency,
        "derived_valid_accuracy": searched.valid_accuracy,
        "derived_test_accuracy": searched.test_accuracy,
        "picked": pick.how,
        "valid_accuracy": accuracy["valid_accuracy"],
        "test_accuracy": accuracy["test_accuracy"],
        "choices": pick.choices,
        "predicted_ms": pick.predicted,
        "measured_ms": result.measured,
        "timings_ms": list(result.timings),
        "predicted_after_ms": result.predicted_after,
        "pick_steps": steps,
        "parts_before_pick": len(before),
        "measured_parts": before + [str(key) for key in result.measured_keys],
        "table_entries": len(result.table),
    }


def search_round(
    config: SearchConfig, search_dir: Path, log: Callable[[str], None]
) -> SearchOutcome:
    """Runs (or continues, from its checkpoint) the search of `config` in `search_dir`.

    The outcome's latencies are on the table it searched with (loaded now:
    the table as the last round left it).
    """
    outcome = run_job(
        SEARCH,
        config,
        search_dir,
        resume=True,
        log=log,
        verbose=0,
        setup_tensorflow=False,
        announce=False,
    )
    summary: SearchSummary = outcome.summary
    search, pipeline = outcome.runner, outcome.pipeline

    def accuracy_of(choices: list[int]) -> dict[str, float | None]:
        model = search.derived_model(choices)  # batch norm re-estimated once for both splits
        return {
            "valid_accuracy": search.evaluate(pipeline.valid_batches(), choices, model),
            "test_accuracy": search.evaluate(pipeline.test_batches(), choices, model),
        }

    return SearchOutcome(summary, search.space, search.latency, accuracy_of)


def run_loop(
    config: SearchConfig,
    settings: LoopSettings,
    runner: Runner,
    output_dir: Path,
    log: Callable[[str], None] = print,
    measure: Callable[..., Refresh] = refresh,
    search: Callable[..., SearchOutcome] | None = None,
    measure_missing: Callable[..., tuple[LayerKey, ...]] = measure_parts,
) -> dict[str, Any]:
    """Searches, measures and refreshes until the measured latency is on target.

    Args:
        config: The search's config; its latency target is replaced by the table.
        settings: The loop's settings.
        runner: The device.
        output_dir: Where the report, the plot and the search go.
        log: Where progress lines go.
        measure: `tflite_bench.refresh.refresh` (tests give it a simulated device's options).
        search: `search_round` (tests give a search without training).
        measure_missing: `tflite_bench.refresh.measure_parts`, for the parts a
            pick lacks (tests give it a simulated device's options).

    Returns:
        The report (also written to `output_dir/loop_report.json`).
    """
    search = search or search_round
    target = config.latency.target_latency
    if target is None:
        raise ConfigError("the loop needs a --target_latency in ms to land on")
    table = settings.table
    # Refuses, before any search, a table of another device (or setup).
    opened = open_table(table, runner.metadata("float32"), settings.base)
    if not table.exists():
        save_table(opened, table)
    config = with_values(config, {"target": str(table)})
    check(config)
    report_file = output_dir / REPORT_FILE
    report = _resumed_report(report_file, target, table, runner.device)
    search_dir = output_dir / SEARCH_DIR
    rounds = report["rounds"]
    for number in range(1, settings.rounds + 1):
        if number <= len(rounds):
            continue
        if rounds and on_target(rounds[-1]["measured_ms"], target, settings.tolerance):
            break
        epochs = config.recipe.epochs + (number - 1) * settings.extra_epochs
        round_config = with_values(config, {"epochs": epochs})
        outcome = search(round_config, search_dir, log)
        searched, space, latency = outcome.summary, outcome.space, outcome.latency

        def parts(keys: list[LayerKey]) -> tuple[LayerKey, ...]:
            return measure_missing(runner, keys, table, base=settings.base, log=log)

        pick, steps = settle_pick(searched, space, latency, target, settings, parts, log)
        spec = space.select(pick.choices)
        save_spec(spec, output_dir / f"round-{number}.json")
        save_spec(spec, output_dir / ARCH_FILE)
        log(
            f"round {number}: searched {' '.join(searched.ops)} ({searched.latency:.3f} ms), "
            f"picked {pick.how}: predicted {pick.predicted:.3f} ms (target {target:g}); "
            f"measuring it on {runner.device}"
        )
        result = measure(
            runner,
            spec,
            table,
            f"round-{number}",
            base=settings.base,
            passes=settings.passes,
            log=log,
        )
        accuracy = outcome.accuracy_of(pick.choices)
        rounds.append(round_record(number, epochs, searched, pick, steps, result, accuracy))
        if settings.time_deployed:
            rounds[-1] |= deployed_timings(runner, spec, f"round-{number}", settings, log)
        error = (result.measured - target) / target
        log(
            f"round {number}: measured {result.measured:.3f} ms ({100 * error:+.1f}% of the "
            f"target), predicted {pick.predicted:.3f} before, {result.predicted_after:.3f} "
            f"after; {len(rounds[-1]['measured_parts'])} parts measured; "
            f"{accuracy_line(rounds[-1])}"
        )
        if result.spread > settings.tolerance:
            log(
                f"warning: round {number}'s {len(result.timings)} timings spread "
                f"±{100 * result.spread:.1f}%, more than the ±{100 * settings.tolerance:g}% "
                f"tolerance: this device's timings cannot tell that close; a larger "
                f"--passes or a quieter device narrows them"
            )
        report["on_target"] = on_target(result.measured, target, settings.tolerance)
        write_text_atomic(report_file, json.dumps(report, indent=2) + "\n")
    report["on_target"] = bool(rounds) and on_target(
        rounds[-1]["measured_ms"], target, settings.tolerance
    )
    report["tolerance"] = settings.tolerance
    report["finished"] = True
    write_text_atomic(report_file, json.dumps(report, indent=2) + "\n")
    plot_rounds(report, output_dir / PLOT_FILE)
    return report


def deployed_timings(
    runner: Runner,
    spec: NetSpec,
    name: str,
    settings: LoopSettings,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Times `spec` as deployed (`deploy.convert`'s serving model, float32, batch 1).

    Its weights are random: a float32 network's time does not depend on them.
    Returns the report's `deployed_ms` (the median) and `deployed_timings_ms`.
    """
    flatbuffer = to_tflite(serving_model(build_net(spec)), "float32")
    timings = time_whole(runner, flatbuffer, f"{name}-deployed", settings.passes, log)
    return {"deployed_ms": statistics.median(timings), "deployed_timings_ms": list(timings)}


def accuracy_line(record: dict[str, Any]) -> str:
    """A round's accuracy of the network it timed; the derived one's too when that is another."""

    def figures(valid: float | None, test: float | None) -> str:
        named = (("held-out", valid), ("test", test))
        return ", ".join(f"{name} {value:.4f}" for name, value in named if value is not None)

    timed = figures(record["valid_accuracy"], record["test_accuracy"]) or "no split to tell"
    line = f"accuracy of the network timed ({record['picked']}), supernet's weights: {timed}"
    if not record["picked"].startswith("derived"):
        derived = figures(record["derived_valid_accuracy"], record["derived_test_accuracy"])
        line += f"; the derived network's: {derived or 'no split to tell'}"
    return line


def _resumed_report(path: Path, target: float, table: Path, device: str) -> dict[str, Any]:
    """The report so far (for `--resume`), or a new one."""
    if path.exists():
        report = json.loads(path.read_text())
        if report["target_ms"] != target or report["table"] != str(table):
            raise ConfigError(
                f"{path} is a loop for {report['target_ms']} ms on {report['table']}, not "
                f"{target} ms on {table}; use another --output_dir"
            )
        return report
    return {"target_ms": target, "table": str(table), "device": device, "rounds": []}


def plot_rounds(report: dict[str, Any], path: Path) -> Path:
    """Predicted and measured latency per round, with the target and its tolerance band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = report["rounds"]
    numbers = [r["round"] for r in rounds]
    target, tolerance = report["target_ms"], report.get("tolerance", DEFAULT_TOLERANCE)
    figure, axes = plt.subplots(figsize=(5.5, 3.8))
    axes.axhspan(
        target * (1 - tolerance), target * (1 + tolerance), color="0.9", label="target ± tolerance"
    )
    axes.axhline(target, color="0.4", linestyle="--", linewidth=1)
    axes.plot(numbers, [r["predicted_ms"] for r in rounds], "o-", label="predicted by the table")
    axes.plot(numbers, [r["measured_ms"] for r in rounds], "s-", label="measured")
    axes.set_xticks(numbers)
    label_axes(axes, ("round", "latency (ms)", f"{report['device']}: target {target:g} ms"))
    figure.tight_layout()
    return save_figure(figure, path)


def main(argv: list[str]) -> int:
    """Runs the loop the flags describe; returns the exit status."""
    import time

    from absl import flags

    values = flags.FLAGS

    def body() -> int:
        config = resolve(values.experiment, **flag_overrides(SearchConfig, ALIASES))
        output_dir = Path(values.output_dir or f"runs/loop-{time.strftime('%Y%m%d-%H%M%S')}")
        if (output_dir / REPORT_FILE).exists() and not values.resume:
            raise ConfigError(f"{output_dir} holds a loop: pass --resume to continue it")
        settings = LoopSettings(
            table=Path(values.table or output_dir / "device_table.json"),
            base=values.base,
            rounds=values.rounds,
            tolerance=values.tolerance,
            extra_epochs=values.extra_epochs,
            pick_steps=values.pick_steps,
            passes=values.passes,
            time_deployed=values.time_deployed,
        )
        configure_run(config.run)
        runner = runner_from_flags(values)
        try:
            report = run_loop(config, settings, runner, output_dir)
        finally:
            runner.close()
        rounds = report["rounds"]
        print(f"target {report['target_ms']:g} ms on {report['device']}:")
        for r in rounds:
            print(
                f"  round {r['round']}: timed the {r['picked']} network: predicted "
                f"{r['predicted_ms']:.3f} ms, measured {r['measured_ms']:.3f} ms"
                + (f" ({r['deployed_ms']:.3f} as deployed)" if "deployed_ms" in r else "")
                + f", {len(r['measured_parts'])} parts measured; {accuracy_line(r)}"
            )
        verdict = "on target" if report["on_target"] else "NOT on target"
        print(
            f"{verdict} (±{100 * settings.tolerance:g}%) after {len(rounds)} round(s); "
            f"report {output_dir / REPORT_FILE}"
        )
        return 0 if report["on_target"] else 1

    return run_command(argv, body)
