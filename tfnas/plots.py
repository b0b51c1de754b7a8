"""Pictures: op probabilities over the epochs, a drawing of a network, latency plots.

The network drawing follows the paper's figures of its searched nets: one box
per block, left to right, colored by kernel size and as tall as the expand
ratio makes the block wide, so that networks searched for different targets
can be told apart at a glance. Files are written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, Patch

from tfnas.io.atomic import write_bytes_atomic
from tfnas.nets.costs import net_cost
from tfnas.nets.spec import ChoiceBlock, NetSpec, SearchSpace, conv_output_size

KERNEL_COLORS = {3: "#9ecae1", 5: "#fdae6b", 7: "#e6550d"}
OTHER_COLOR = "#d9d9d9"
STAGE_LINE_COLOR = "#636363"
FIXED_HEIGHT = 1.35  # stem, feature mix and head: tall enough for their labels


def new_figure(*grid: int, **options: Any) -> tuple[Any, Any]:
    """`plt.subplots(*grid, **options)` on the file-only backend: (figure, axes)."""
    return plt.subplots(*grid, **options)


def finish_figure(
    figure: Any,
    axes: Any,
    path: str | os.PathLike[str],
    labels: tuple[str, str, str],
    legend: bool = True,
) -> Path:
    """Labels one plot (x, y, title), grids it, adds its legend, and saves it as `path`."""
    label_axes(axes, labels, "lower right" if legend else None)
    figure.tight_layout()
    return save_figure(figure, path)


def label_axes(axes: Any, labels: tuple[str, str, str], legend: str | None = "best") -> None:
    """Labels one panel (x, y, title) and grids it; `legend` places its legend (None: none)."""
    axes.set_xlabel(labels[0])
    axes.set_ylabel(labels[1])
    axes.set_title(labels[2])
    axes.grid(alpha=0.3)
    if legend is not None:
        axes.legend(fontsize=7, loc=legend)


def save_figure(figure: Any, path: str | os.PathLike[str]) -> Path:
    """Writes `figure` as a PNG atomically and closes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return write_bytes_atomic(path, buffer.getvalue())


def _box(axes: Any, x: float, height: float, color: str, label: str, below: str) -> None:
    axes.add_patch(
        FancyBboxPatch(
            (x + 0.08, -height / 2),
            0.84,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=color,
            edgecolor="black",
            linewidth=0.8,
        )
    )
    axes.text(x + 0.5, 0, label, rotation=90, ha="center", va="center", fontsize=8)
    axes.text(x + 0.5, -1.9, below, rotation=90, ha="center", va="top", fontsize=6.5)


def draw_net(spec: NetSpec, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Draws `spec` as a row of blocks and writes a PNG.

    Box color is the depthwise kernel size, box height the expand ratio
    (MB1 short, MB6 tall); below each box, its output feature map. Vertical
    lines mark where the resolution halves.

    Args:
        spec: The network.
        path: The PNG to write.
        title: Title (default: the name, MACs and parameters).

    Returns:
        The path written.
    """
    size = conv_output_size(spec.resolution, spec.stem.stride)
    parts: list[tuple[float, str, str, str, bool]] = [
        (
            FIXED_HEIGHT,
            OTHER_COLOR,
            f"Conv {spec.stem.kernel_size}x{spec.stem.kernel_size}",
            f"{size}x{size}x{spec.stem.out_channels}",
            spec.stem.stride > 1,
        )
    ]  # (height, color, label, below, halves the resolution)
    for block in spec.blocks:
        size = conv_output_size(size, block.stride)
        drawing = block.op.drawing()
        height, label = drawing.height, drawing.label
        color = KERNEL_COLORS.get(drawing.kernel_size, OTHER_COLOR) if drawing.solid else "white"
        parts.append(
            (height, color, label, f"{size}x{size}x{block.out_channels}", block.stride > 1)
        )
    if spec.feature_mix_channels is not None:
        parts.append(
            (
                FIXED_HEIGHT,
                OTHER_COLOR,
                "Conv 1x1",
                f"{size}x{size}x{spec.feature_mix_channels}",
                False,
            )
        )
    parts.append((FIXED_HEIGHT, OTHER_COLOR, "Pool FC", f"{spec.classifier.num_classes}", False))

    figure, axes = plt.subplots(figsize=(0.42 * len(parts) + 1.5, 3.4))
    for x, (height, color, label, below, halves) in enumerate(parts):
        _box(axes, x, height, color, label, below)
        if halves and x > 0:
            axes.axvline(x + 0.04, color=STAGE_LINE_COLOR, linewidth=0.6, linestyle=":")
    cost = net_cost(spec)
    axes.set_title(
        title or f"{spec.name}: {cost.macs / 1e6:.1f}M MACs, {cost.params / 1e6:.2f}M params",
        fontsize=9,
    )
    axes.legend(
        handles=[
            Patch(facecolor=c, edgecolor="black", label=f"{k}x{k}")
            for k, c in KERNEL_COLORS.items()
        ],
        loc="upper right",
        fontsize=7,
        ncol=3,
        frameon=False,
    )
    axes.set_xlim(-0.2, len(parts) + 0.2)
    axes.set_ylim(-3.6, 2.6)
    axes.axis("off")
    return save_figure(figure, path)


def plot_alpha_history(
    space: SearchSpace,
    epochs: Sequence[int],
    probabilities: Sequence[Sequence[Sequence[float]]],
    path: str | os.PathLike[str],
) -> Path:
    """Plots each choice block's op probabilities over the epochs and writes a PNG.

    Args:
        space: The searched space (for the op names).
        epochs: The epochs recorded (1-based).
        probabilities: Of each epoch, each choice block's op probabilities.
        path: The PNG to write.
    """
    blocks = space.choice_blocks
    columns = min(4, len(blocks))
    rows = -(-len(blocks) // columns)
    figure, grid = plt.subplots(
        rows, columns, figsize=(3.2 * columns, 2.3 * rows), squeeze=False, sharex=True, sharey=True
    )
    for b, block in enumerate(blocks):
        axes = grid[b // columns][b % columns]
        for c, op in enumerate(block.candidates):
            values = [epoch[b][c] for epoch in probabilities]
            drawing = op.drawing()
            style = "-" if drawing.solid else ":"
            color = KERNEL_COLORS.get(drawing.kernel_size, "black")
            width = 0.2 + drawing.height  # wider for a wider expansion
            axes.plot(epochs, values, style, color=color, linewidth=width, label=op.name)
        axes.set_title(f"choice block {b}", fontsize=8)
        axes.set_ylim(0, 1)
        axes.tick_params(labelsize=7)
    for extra in range(len(blocks), rows * columns):
        grid[extra // columns][extra % columns].axis("off")
    handles, labels = _all_ops(grid, blocks)
    figure.legend(handles, labels, loc="lower center", ncol=min(7, len(labels)), fontsize=7)
    for b in range(len(blocks)):
        axes = grid[b // columns][b % columns]
        if b // columns == rows - 1 or b + columns >= len(blocks):  # lowest panel of its column
            axes.set_xlabel("epoch", fontsize=8)
        if b % columns == 0:
            axes.set_ylabel("probability", fontsize=8)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    return save_figure(figure, path)


def _all_ops(grid: Any, blocks: Sequence[ChoiceBlock]) -> tuple[list[Any], list[str]]:
    """Legend entries of the block with the most candidates (it has every op)."""
    widest = max(range(len(blocks)), key=lambda b: len(blocks[b].candidates))
    columns = len(grid[0])
    return grid[widest // columns][widest % columns].get_legend_handles_labels()


def plot_predicted_vs_measured(
    predicted: Sequence[float],
    measured: Sequence[float],
    path: str | os.PathLike[str],
    title: str,
    unit: str = "ms",
) -> Path:
    """A scatter plot of predicted against measured latency, with the y = x line and ±10%."""
    figure, axes = plt.subplots(figsize=(5, 5))
    low = 0.9 * min(*predicted, *measured)
    high = 1.1 * max(*predicted, *measured)
    line = [low, high]
    axes.plot(line, line, color="black", linewidth=1, label="y = x")
    axes.fill_between(
        line, [0.9 * v for v in line], [1.1 * v for v in line], color="0.9", label="±10%"
    )
    axes.scatter(measured, predicted, s=18, color="tab:blue", zorder=3)
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel(f"measured end to end ({unit})")
    axes.set_ylabel(f"predicted: sum of table entries ({unit})")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    return save_figure(figure, path)


def plot_pareto(
    panels: Sequence[tuple[str, Sequence[float]]],
    accuracies: Sequence[float],
    names: Sequence[str],
    optimal: Sequence[Sequence[bool]],
    path: str | os.PathLike[str],
    title: str,
    limit: tuple[int, float] | None = None,
    ranges: Sequence[tuple[float, float]] | None = None,
) -> Path:
    """Accuracy against latency, one panel per latency (label, values), Pareto front drawn.

    Args:
        panels: (x-axis label, one latency per method) of each panel.
        accuracies: One accuracy per method.
        names: The methods.
        optimal: Per panel, whether each method is Pareto-optimal there
            (filled markers; the front is the line through them).
        path: The PNG written.
        title: The figure's title.
        limit: (panel index, latency) of a latency limit drawn as a dashed line.
        ranges: (lowest, highest) accuracy of each method over its seeds, drawn
            as error bars.
    """
    figure, axes_row = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for p, (axes, (label, latencies)) in enumerate(zip(axes_row[0], panels, strict=True)):
        for i, name in enumerate(names):
            color = colors[i % len(colors)]
            filled = optimal[p][i]
            if ranges is not None:
                low, high = ranges[i]
                axes.errorbar(
                    latencies[i],
                    accuracies[i],
                    yerr=[[max(accuracies[i] - low, 0.0)], [max(high - accuracies[i], 0.0)]],
                    color=color,
                    linewidth=1,
                    capsize=3,
                    zorder=2,
                )
            axes.scatter(
                latencies[i],
                accuracies[i],
                s=60,
                color=color if filled else "white",
                edgecolors=color,
                linewidths=1.5,
                zorder=3,
                label=name if p == 0 else None,
            )
        points = zip(latencies, accuracies, optimal[p], strict=True)
        front = sorted((lat, acc) for lat, acc, on in points if on)
        if len(front) > 1:
            axes.step(*zip(*front, strict=True), where="post", color="0.5", linewidth=1, zorder=2)
        if limit is not None and limit[0] == p:
            axes.axvline(limit[1], color="tab:red", linestyle="--", linewidth=1, label="limit")
        axes.set_xlabel(label)
        axes.set_ylabel("test accuracy (retrained)")
        axes.grid(alpha=0.3)
        axes.margins(x=0.15, y=0.2)
    axes_row[0][0].legend(loc="lower right", fontsize=8)
    figure.suptitle(title + "  (filled: Pareto-optimal)", fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)
