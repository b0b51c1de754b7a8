"""What the benchmarks on this host share: its table, hand-designed networks, searches, trainings.

`benchmarks.worth_deploying` (the search against what a user deploys
without it, at one latency), `benchmarks.pareto` (accuracy against measured
latency over several targets) and `benchmarks.hardware_specific` (a network
searched for each device, measured on both) answer different questions
about the same networks. They run in one runs folder
(`runs/worth_deploying`) through a `HostStudy`, so that a part one of them
ran (the host's table, a search, a training, an export) is the others' too,
and is checked as every part is (`benchmarks.common.run_part`): reused only
when its command and config are the same.

The target device is this host's CPU: float32 TFLite, one thread, each
network timed as `deploy.export` writes it (normalization and softmax
inside, batch 1), the median of `PASSES` passes over the files in turn.

Its trainings, searches and comparisons are kept in a committed ledger
(`benchmarks.common.PartLedger`) as they finish, so that a fresh checkout
reruns none of them. Their models and exported files are not kept: a
network whose exported file went with its runs folder is timed as its
untrained twin (`deployed_file`: the same graph, converted as `deploy.export`
converts it, other weights), and the report says which was timed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    EXPERIMENT,
    PartError,
    PartLedger,
    declared_part,
    flag_pairs,
    run_part,
)

SEEDS = (0, 1)
V3_WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.25)
PASSES = 5
VALIDATE_ARCHS = 30
TABLE = Path("host-table") / "table.json"
VALIDATION = Path("host-validate") / "validate.json"
# The parts a ledger keeps, with the files beyond their done file and config
# that later parts read. The host's table and timings are not kept: they
# measure the machine they ran on. Nor are exports (binary, as big as a model).
KEPT_PARTS = {
    "tfnas.train": (),
    "tfnas.search": ("arch.json",),
    "tfnas.compare": ("proxylessnas/arch.json", "random/arch.json"),
}
EXPORTED = "exported"
TWIN = "untrained twin"


@dataclasses.dataclass(frozen=True)
class Family:
    """Hand-designed networks a user would deploy instead, one per width.

    Attributes:
        method: The name in the report (`MobileNetV3-Small`).
        net: Its registered network (`mobilenet_v3_small`).
        slug: The prefix of its networks' names (`mobilenet_v3_small_min`).
        widths: The width multipliers measured.
        options: Other arguments of its factory (`minimalistic`).
        bracket: Train the widths nearest below and above the target (False:
            the nearest only).
    """

    method: str
    net: str
    slug: str
    widths: tuple[float, ...]
    options: tuple[tuple[str, Any], ...] = ()
    bracket: bool = True


FAMILIES = (
    Family("MobileNetV2", "mobilenet_v2", "mobilenet_v2", (0.35, 0.5, 0.75, 1.0, 1.4)),
    Family("MobileNetV3-Small", "mobilenet_v3_small", "mobilenet_v3_small", V3_WIDTHS),
    Family("MobileNetV3-Large", "mobilenet_v3_large", "mobilenet_v3_large", V3_WIDTHS),
    Family(
        "MobileNetV3-Small minimalistic",
        "mobilenet_v3_small",
        "mobilenet_v3_small_min",
        V3_WIDTHS,
        (("minimalistic", True),),
        bracket=False,
    ),
    Family(
        "MobileNetV3-Large minimalistic",
        "mobilenet_v3_large",
        "mobilenet_v3_large_min",
        V3_WIDTHS,
        (("minimalistic", True),),
        bracket=False,
    ),
)
# What a user deploys without NAS: its measured latency is the comparison's target.
TARGET = "mobilenet_v2-1"
# The `fashion_mnist` experiment's search moves alpha at 0.05 a step for 3
# epochs; a longer search keeps that total (the learning rate times the
# search epochs), so that alpha settles as the supernet's weights do.
ARCH_LR_EPOCHS = 0.15


@dataclasses.dataclass(frozen=True)
class SearchSchedule:
    """How long the supernet trains: long enough to rank networks at the training's length.

    Attributes:
        warmup_epochs: Epochs of weights alone, on uniformly sampled paths.
        epochs: Epochs of weights and alpha.
    """

    warmup_epochs: int = 5
    epochs: int = 10

    @property
    def arch_learning_rate(self) -> float:
        """`ARCH_LR_EPOCHS` spread over the search epochs."""
        return ARCH_LR_EPOCHS / self.epochs

    def flags(self, epochs_flag: str) -> list[str]:
        """The flags that set it (`--search_epochs` for `tfnas.compare`, `--epochs` for search)."""
        return [
            f"--warmup_epochs={self.warmup_epochs}",
            f"{epochs_flag}={self.epochs}",
            f"--arch_learning_rate={self.arch_learning_rate:g}",
        ]


def searched_name(target: str, seed: int) -> str:
    """The name of the network a search at `target`'s latency derived, with `seed`.

    At `TARGET` (MobileNetV2 1.0's latency) by its seed alone (`searched-2`),
    at another network's latency by that network too
    (`searched-mobilenet_v2-0.5-2`). Its trainings are `train/NAME-seedS`, so
    a network one benchmark trained is the others' too.
    """
    return f"searched-{seed}" if target == TARGET else f"searched-{target}-{seed}"


def measure_files(files: dict[str, Path], passes: int = PASSES) -> dict[str, float]:
    """Median latency (ms) of each TFLite file on this host, `passes` passes over all in turn.

    Raises:
        PartError: The measuring process failed.
    """
    from tflite_bench.runners import DeviceError
    from tfnas.compare.evaluate import time_files

    if not files:
        return {}
    try:
        return time_files(files, "host", passes)[0]
    except DeviceError as error:
        raise PartError(f"tflite_bench.measure failed: {error}") from None


def deployed_file(arch: str | Path, out: Path) -> Path:
    """The file `deploy.export` would write for `arch`, without trained weights (same graph)."""
    from deploy.convert import serving_model, to_tflite
    from tfnas.io.atomic import write_bytes_atomic
    from tfnas.nets.builder import build_net
    from tfnas.nets.load import load_net

    if out.exists():
        return out
    return write_bytes_atomic(
        out, to_tflite(serving_model(build_net(load_net(str(arch)))), "float32")
    )


def cached_measurements(
    cache: Path, files: dict[str, Path], measure: Callable[[dict[str, Path]], dict[str, float]]
) -> dict[str, float]:
    """`measure(files)`, kept in `cache` and reused while the same files are asked for."""
    declared = declared_part("measure", [f"--{name}={path}" for name, path in files.items()])
    if cache.exists():
        kept = json.loads(cache.read_text())
        if kept["declared"] == declared:
            return kept["ms"]
    ms = measure(files)
    from tfnas.io.atomic import write_text_atomic

    write_text_atomic(cache, json.dumps({"declared": declared, "ms": ms}, indent=2) + "\n")
    return ms


def hand_designed_arch(family: Family, width: float, runs: Path) -> Path:
    """A family's network at `width`, 28 px, one input channel, 10 classes, as an arch file."""
    from tfnas.nets import spec_json
    from tfnas.nets.registry import NETS
    from tfnas.train.trainer import prepare_spec

    arch = runs / "archs" / f"{family.slug}-{width:g}.json"
    if not arch.exists():
        spec = NETS.get(family.net, width_mult=width, **dict(family.options))
        spec_json.save_spec(prepare_spec(spec, 10, 0.0, 28, in_channels=1), arch)
    return arch


@dataclasses.dataclass
class HostStudy:
    """The parts of the host benchmarks, run (or reused) in one runs folder.

    Attributes:
        runs: The runs folder.
        resume: Continue an unfinished part.
        epochs: Training epochs of every network.
        augment: Training augmentation of every network.
        width_mult: The `fashion_mnist` space's width, for the table and every search.
        schedule: How long every search trains its supernet.
        measure: Times files on this host (tests give a stand-in).
        deploy: Writes a network's deployed file, untrained (tests give a stand-in).
        train_flags: Other flags of every training (`--weight_decay=5e-4`).
        ledger: Where its trainings, searches and comparisons are kept.
        parts: The results of every part run or reused so far.
    """

    runs: Path
    resume: bool
    epochs: int
    augment: str = "none"
    width_mult: float = 1.0
    schedule: SearchSchedule = SearchSchedule()
    measure: Callable[[dict[str, Path]], dict[str, float]] = measure_files
    deploy: Callable[[str | Path, Path], Path] = deployed_file
    train_flags: tuple[str, ...] = ()
    ledger: PartLedger | None = None
    parts: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def part(self, module: str, args: list[str], name: str, done_file: str, **options: Any) -> dict:
        """`benchmarks.common.run_part` in `runs/name`, its result kept in `parts`."""
        if module in KEPT_PARTS:
            options |= {"ledger": self.ledger, "kept": KEPT_PARTS[module]}
        result = run_part(module, args, self.runs / name, done_file, self.resume, **options)
        self.parts.append(result)
        return result

    @property
    def width_flags(self) -> list[str]:
        """The flag that sets the space's width, for the table and the searches."""
        return [f"--width_mult={self.width_mult:g}"]

    @property
    def table(self) -> Path:
        """This host's latency table of the space (`host_table` writes it)."""
        return self.runs / TABLE

    def host_table(self) -> dict[str, Any]:
        """Measures the space's parts here, then validates the table on `VALIDATE_ARCHS` networks.

        Returns the validation's figures (without its networks). The
        validation fits the table's calibration (`--calibrate`).
        """
        space_flags = ["--space=fashion_mnist", "--channels=1", *self.width_flags]
        self.part(
            "tflite_bench.build_table",
            [*space_flags, f"--out={self.table}"],
            str(TABLE.parent),
            TABLE.name,
            output_flag=None,
            resume_flag=None,
        )
        validation = self.runs / VALIDATION
        self.part(
            "tflite_bench.validate",
            [
                f"--table={self.table}",
                *space_flags,
                f"--archs={VALIDATE_ARCHS}",
                "--calibrate",
                f"--results={validation}",
            ],
            str(VALIDATION.parent),
            VALIDATION.name,
            output_flag=None,
            resume_flag=None,
            changes=[self.table],  # --calibrate stores its calibration in the table
        )
        figures = json.loads(validation.read_text())
        return {key: value for key, value in figures.items() if key != "architectures"}

    def hand_designed(self) -> tuple[dict[str, Path], dict[str, float]]:
        """Every width of every family as an arch file, and its deployed file's latency here."""
        archs = {
            f"{family.slug}-{w:g}": hand_designed_arch(family, w, self.runs)
            for family in FAMILIES
            for w in family.widths
        }
        return archs, self.latencies("hand_designed", archs)

    def latencies(self, group: str, archs: dict[str, str | Path]) -> dict[str, float]:
        """The latency of each network's untrained deployed file, measured here once per group."""
        files = {name: self.deploy(arch, self.twin_path(name)) for name, arch in archs.items()}
        return cached_measurements(self.runs / "deployed" / f"{group}.json", files, self.measure)

    def search_at(self, target: str, target_ms: float, seed: int) -> dict[str, Any]:
        """The search held to `target_ms` on this host's table, as `searched_name` names it."""
        flags = [f"--target={self.table}", f"--target_latency={target_ms:.6f}"]
        return self.search(f"search-{target}-seed{seed}", flags, seed)

    def search(self, name: str, target_flags: Sequence[str], seed: int) -> dict[str, Any]:
        """`tfnas.search` on the space with `schedule`: its summary, and its `arch` file."""
        summary = self.part(
            "tfnas.search",
            [
                f"--experiment={EXPERIMENT}",
                *self.width_flags,
                *target_flags,
                *self.schedule.flags("--epochs"),
                f"--seed={seed}",
            ],
            name,
            "search_summary.json",
        )
        return summary | {"arch": str(self.runs / name / "arch.json")}

    def train_and_export(self, name: str, arch: str | Path, seeds: Sequence[int]) -> dict:
        """Trains `arch` with each seed, exporting the first seed's network (float32) at once.

        Returns its `test_accuracies` (one per seed), `params`, `macs` and
        `exported` (the TFLite file; None when the first seed's training was
        restored from the ledger without its model, and never exported).
        """
        accuracies, exported = [], None
        for seed in seeds:
            trained = self.part(
                "tfnas.train",
                [
                    f"--experiment={EXPERIMENT}",
                    f"--arch={arch}",
                    f"--epochs={self.epochs}",
                    f"--augment={self.augment}",
                    *self.train_flags,
                    f"--seed={seed}",
                ],
                f"train/{name}-seed{seed}",
                "train_summary.json",
            )
            accuracies.append(trained["test_accuracy"])
            if seed == seeds[0]:  # exported before the other seeds train, while its model is here
                exported = self.export(name, seed)
        return {
            "test_accuracies": accuracies,
            "params": trained["params"],
            "macs": trained["macs"],
            "exported": exported,
        }

    def export(self, name: str, seed: int) -> str | None:
        """`deploy.export` of the training `train/NAME-seedSEED` (float32): the file's path.

        None when neither the export nor the trained model is here (a
        training the ledger restored, whose model went with its runs folder).
        """
        from tfnas.train.trainer import WEIGHTS_FILE

        model_dir = self.runs / "train" / f"{name}-seed{seed}"
        if not (self.runs / "export" / name).exists() and not (model_dir / WEIGHTS_FILE).exists():
            return None
        exported = self.part(
            "deploy.export",
            [f"--model_dir={model_dir}", "--formats=float32"],
            f"export/{name}",
            "export_report.json",
            resume_flag=None,
        )
        return exported["formats"]["float32"]["path"]

    def twin_path(self, name: str) -> Path:
        """Where the network `name`'s untrained deployed file is written once."""
        return self.runs / "deployed" / f"{name}.tflite"

    def timed_files(self, networks: dict[str, dict[str, Any]]) -> dict[str, Path]:
        """The file to time of each network: its exported file, else its untrained twin.

        Each network's `timed` says which (`EXPORTED` or `TWIN`).
        """
        files = {}
        for name, net in networks.items():
            exported = net.get("exported")
            if exported and Path(exported).exists():
                files[name], net["timed"] = Path(exported), EXPORTED
            else:
                files[name], net["timed"] = self.deploy(net["arch"], self.twin_path(name)), TWIN
        return files

    def recipe(self) -> dict[str, Any]:
        """What every report states of how its networks were searched and trained."""
        return {
            "experiment": EXPERIMENT,
            "epochs": self.epochs,
            "augment": self.augment,
            "train_flags": list(self.train_flags),
            "width_mult": self.width_mult,
            "search_schedule": dataclasses.asdict(self.schedule)
            | {"arch_learning_rate": self.schedule.arch_learning_rate},
        }


def recipe_line(figures: dict[str, Any]) -> str:
    """How a report's networks were trained (`HostStudy.recipe`), as its first line says it."""
    return (
        f"`{figures['experiment']}` (its space at width {figures.get('width_mult', 1.0):g}), "
        f"every network trained {figures['epochs']} epochs with the experiment's recipe, "
        f"augmentation {figures['augment']}"
        + "".join(f", `{flag}`" for flag in figures.get("train_flags", []))
    )


def define_study_flags(default_epochs: int = 20) -> None:
    """The host benchmarks' flags: the runs folder, the results, and the recipe of `HostStudy`."""
    from absl import flags

    from benchmarks.common import define_benchmark_flags
    from tfnas.datasets.pipeline import AUGMENTATIONS

    define_benchmark_flags("runs/worth_deploying")
    flags.DEFINE_integer("epochs", default_epochs, "Training epochs of every network.")
    flags.DEFINE_enum(
        "augment", "none", list(AUGMENTATIONS), "Training augmentation of every network."
    )
    flags.DEFINE_float("width_mult", 1.0, "Width multiplier of the fashion_mnist space.")
    flags.DEFINE_list(
        "train_flags", [], "Other tfnas.train flags of every training (--weight_decay=5e-4)."
    )
    flags.DEFINE_integer(
        "search_warmup_epochs", SearchSchedule.warmup_epochs, "Warmup epochs of every search."
    )
    flags.DEFINE_integer(
        "search_epochs", SearchSchedule.epochs, "Search epochs (after the warmup) of every search."
    )


def study_from_flags(runs: Path, resume: bool) -> HostStudy:
    """The `HostStudy` the flags of `define_study_flags` describe.

    Raises:
        SystemExit: A flag out of range, with a line naming it.
    """
    import sys

    from absl import flags

    values = flags.FLAGS
    for name in ("epochs", "search_epochs", "search_warmup_epochs"):
        if values[name].value < 1:
            sys.exit(f"error: --{name}={values[name].value}: expected an integer >= 1")
    if values.width_mult <= 0:
        sys.exit(f"error: --width_mult={values.width_mult}: expected a number > 0")
    try:
        flag_pairs(values.train_flags)
    except ValueError as error:
        sys.exit(f"error: {error}")
    schedule = SearchSchedule(values.search_warmup_epochs, values.search_epochs)
    ledger = PartLedger(Path(values.output_dir) / "parts" / f"{runs.name}.json", runs)
    return HostStudy(
        runs,
        resume,
        values.epochs,
        values.augment,
        values.width_mult,
        schedule,
        train_flags=tuple(values.train_flags),
        ledger=ledger,
    )
