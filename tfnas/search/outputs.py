"""What a search leaves in its output directory.

- `config.json`: the resolved config (written when the run starts);
- `arch.json` (project spec) and `net.config` (the authors' format) of the
  derived network;
- `search_summary.json`: latency on the target, MACs, params, accuracies,
  final alpha and probabilities;
- `arch_log.txt`: each choice block's op probabilities after every epoch;
- `alpha_history.png` and `arch.png`: alpha over the epochs, and the derived
  network drawn one box per block;
- `checkpoints/` and `tensorboard/`.

Every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tfnas import records
from tfnas.io.atomic import write_text_atomic
from tfnas.latency.model import LatencyModel, net_latency
from tfnas.nets import netconfig, spec_json
from tfnas.nets.costs import net_cost
from tfnas.nets.spec import NetSpec, SearchSpace, choice_name
from tfnas.plots import draw_net, plot_alpha_history
from tfnas.records import SearchEpoch, SearchSummary
from tfnas.search.config import SearchConfig

ARCH_FILE = "arch.json"
NET_CONFIG_FILE = "net.config"
SUMMARY_FILE = "search_summary.json"
ARCH_LOG_FILE = "arch_log.txt"
ALPHA_PLOT_FILE = "alpha_history.png"
NET_PLOT_FILE = "arch.png"
# The derived network's weights inherited from the supernet, batch norm
# re-estimated: `build_net(arch.json)` loads them (a start for fine-tuning).
DERIVED_WEIGHTS_FILE = "derived.weights.h5"


def net_latency_of(target: LatencyModel, net: NetSpec) -> float:
    """Latency of a network on the target, in the target's unit."""
    return net_latency(target, net).total


def summary(
    config: SearchConfig,
    space: SearchSpace,
    net: NetSpec,
    target: LatencyModel,
    expected: float,
    alphas: Sequence[Sequence[float]],
    probabilities: Sequence[Sequence[float]],
    choices: Sequence[int],
    valid_accuracy: float | None,
    test_accuracy: float | None,
    steps: int,
    loss_peak_ratio: float = 0.0,
) -> SearchSummary:
    """The contents of `search_summary.json`.

    `loss_peak_ratio` is how near the weights' loss came to divergence
    (`tfnas.engine.divergence.LossGuard.peak_ratio`: 1 is its start, 1.5 stops the run).
    """
    latency = net_latency(target, net)
    cost = net_cost(net)
    reinforce = config.arch_search.mode == "reinforce"
    return SearchSummary(
        experiment=config.experiment,
        space=space.name,
        target=config.latency.target,
        unit=target.unit,
        target_latency=config.latency.target_latency,
        loss=config.latency.reward if reinforce else config.latency.loss,
        mode=config.arch_search.mode,
        latency=latency.total,
        latency_measured_parts=latency.count("measured"),
        latency_predicted_parts=latency.count("predicted"),
        expected_latency=expected,
        macs=cost.macs,
        params=cost.params,
        blocks=len(net.blocks),
        ops=[space.choice_blocks[b].candidates[c].name for b, c in enumerate(choices)],
        choices=list(choices),
        valid_accuracy=valid_accuracy,
        loss_peak_ratio=loss_peak_ratio,
        test_accuracy=test_accuracy,
        weight_steps=steps,
        alphas=[list(a) for a in alphas],
        probabilities=[list(p) for p in probabilities],
    )


def arch_log_text(space: SearchSpace, history: Sequence[SearchEpoch]) -> str:
    """One paragraph per epoch: each choice block's ops by probability, most likely first."""
    lines = []
    for record in history:
        lines.append(
            f"epoch {record.epoch} ({record.phase}), E[LAT] "
            f"{record.expected_latency:.4g}, derived {record.derived_latency:.4g}"
        )
        for b, (block, probs) in enumerate(
            zip(space.choice_blocks, record.probabilities, strict=True)
        ):
            ranked = sorted(zip(probs, block.candidates, strict=True), key=lambda pc: -pc[0])
            lines.append(
                f"  {choice_name(b)}: " + "  ".join(f"{op.name} {p:.3f}" for p, op in ranked)
            )
    return "\n".join(lines) + "\n"


def write_arch_log(output_dir: Path, space: SearchSpace, history: Sequence[SearchEpoch]) -> Path:
    """Rewrites `arch_log.txt` from the history (so a resumed run's log stays whole)."""
    return write_text_atomic(output_dir / ARCH_LOG_FILE, arch_log_text(space, history))


def write_outputs(
    output_dir: Path,
    space: SearchSpace,
    net: NetSpec,
    summary: SearchSummary,
    history: Sequence[SearchEpoch],
) -> dict[str, Path]:
    """Writes the derived network, the summary and the plots; returns them by name."""
    written = {
        "arch": spec_json.save_spec(net, output_dir / ARCH_FILE),
        "net_config": write_text_atomic(
            output_dir / NET_CONFIG_FILE, netconfig.dumps_net_config(net)
        ),
        "summary": records.save(summary, output_dir / SUMMARY_FILE),
        "arch_log": write_arch_log(output_dir, space, history),
        "net_plot": draw_net(
            net,
            output_dir / NET_PLOT_FILE,
            title=f"{net.name} for {summary.target}: {summary.latency:.3g} "
            f"{summary.unit} (target {summary.target_latency}), "
            f"{summary.macs / 1e6:.1f}M MACs",
        ),
    }
    if history:
        written["alpha_plot"] = plot_alpha_history(
            space,
            [record.epoch for record in history],
            [record.probabilities for record in history],
            output_dir / ALPHA_PLOT_FILE,
        )
    return written
