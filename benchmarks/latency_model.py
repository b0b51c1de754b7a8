"""How well the latency models predict: fit errors, network totals, released networks.

    python -m benchmarks.latency_model [--anchors=DIR] [--output_dir=benchmarks/results]

Needs the published tables (`../shared/anchors`, or $TFNAS_ANCHORS, or
--anchors). Prints and writes `latency_model.json` and `latency_model.md`:

- the Pixel 1 cost model's leave-one-out error, and the Note10 model's error
  on each resolution when fitted on the other three;
- totals over networks of the ProxylessNAS space: published table (as a
  `--target=FILE`) and the shipped `mobile` cost model alone;
- an ablation: the Pixel 1 fit without the size-dependent features;
- released networks on every built-in target.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tfnas.io.atomic import write_text_atomic
from tfnas.latency import cost_model
from tfnas.latency.features import SMALL_GEMM_FEATURES, SPILL_FEATURES
from tfnas.latency.model import TableModel, net_latency, space_latency
from tfnas.latency.table import load_table
from tfnas.latency.targets import load_target
from tfnas.nets.load import load_net
from tfnas.nets.spaces import proxyless_imagenet

PIXEL1 = "pixel1_proxylessnas_mobile_trim.yaml"
NOTE10 = (160, 176, 192, 208)
# Published totals (anchors README) and published whole-network latencies (paper).
SPACE_TOTALS_MS = {"smallest": 30.0, "3x3_MBConv3": 76.0, "7x7_MBConv6": 191.0}
PUBLISHED_NET_MS = {"proxyless_mobile": 78.0, "mobilenet_v2": 75.0, "proxyless_mobile_14": 147.0}
# Pixel 1 fits with feature families held at zero: what each one adds.
ABLATIONS = {
    "all (shipped)": (),
    "without gemm_macs_below_*": SMALL_GEMM_FEATURES,
    "without elements_beyond_*": SPILL_FEATURES,
    "without both (the first model)": SMALL_GEMM_FEATURES + SPILL_FEATURES,
}
NETS = ("proxyless_mobile", "mobilenet_v2", "proxyless_mobile_14", "proxyless_cpu", "proxyless_gpu")


def _choices(op: str) -> list[int]:
    names = [[c.name for c in b.candidates] for b in proxyless_imagenet().choice_blocks]
    if op == "smallest":
        return [n.index("Zero") if "Zero" in n else n.index("3x3_MBConv3") for n in names]
    return [n.index(op) for n in names]


def measure(anchors: Path) -> dict[str, Any]:
    """Every figure of the benchmark."""
    latency = anchors / "latency"
    pixel1 = load_table(latency / PIXEL1)
    results: dict[str, Any] = {"pixel1_loo": cost_model.leave_one_out([pixel1]).as_dict()}
    note10 = {r: load_table(latency / f"note10_ofa_{r}.yaml") for r in NOTE10}
    results["note10_held_out"] = {
        str(r): cost_model.evaluate(
            cost_model.fit([t for q, t in note10.items() if q != r], with_loo=False), note10[r]
        ).as_dict()
        for r in NOTE10
    }
    space = proxyless_imagenet()
    table_space = space_latency(load_target(str(latency / PIXEL1)), space)
    model_space = space_latency(load_target("mobile"), space)
    results["space_totals"] = {
        name: {
            "published_ms": published,
            "table_ms": table_space.latency_of(_choices(name)),
            "mobile_model_ms": model_space.latency_of(_choices(name)),
        }
        for name, published in SPACE_TOTALS_MS.items()
    }
    results["ablation"] = {}
    for name, drop in ABLATIONS.items():
        model = TableModel(name, None, cost_model.fit([pixel1], drop=drop))
        totals = space_latency(model, space)
        results["ablation"][name] = {
            "loo": model.cost_model.report["loo"],
            "totals_ms": {which: totals.latency_of(_choices(which)) for which in SPACE_TOTALS_MS},
        }
    results["nets"] = {}
    for name in NETS:
        spec = load_net(name)
        row: dict[str, Any] = {"published_pixel1_ms": PUBLISHED_NET_MS.get(name)}
        table_net = net_latency(load_target(str(latency / PIXEL1)), spec)
        row["pixel1_table_plus_model_ms"] = table_net.total
        row["pixel1_table_parts_predicted"] = table_net.count("predicted")
        for target in ("mobile", "cpu", "flops"):
            result = net_latency(load_target(target), spec)
            row[target] = result.total
            row[f"{target}_parts_predicted"] = result.count("predicted")
        results["nets"][name] = row
    return results


def markdown(results: dict[str, Any]) -> str:
    """The tables the README quotes."""
    loo = results["pixel1_loo"]
    lines = [
        f"Pixel 1 cost model, leave-one-out over {loo['count']} entries: median APE "
        f"{100 * loo['median_ape']:.1f}%, max {100 * loo['max_ape']:.1f}% "
        f"(`{loo['worst']}`).",
        "",
        "| Note10 resolution held out | median APE | max APE |",
        "|---|---|---|",
    ]
    for r, e in results["note10_held_out"].items():
        lines.append(f"| {r} | {100 * e['median_ape']:.1f}% | {100 * e['max_ape']:.1f}% |")
    lines += [
        "",
        "| ProxylessNAS space, all blocks | published | table sum | `mobile` model | error |",
        "|---|---|---|---|---|",
    ]
    for name, t in results["space_totals"].items():
        error = t["mobile_model_ms"] / t["table_ms"] - 1
        lines.append(
            f"| {name} | {t['published_ms']:.0f} ms | {t['table_ms']:.2f} ms | "
            f"{t['mobile_model_ms']:.2f} ms | {100 * error:+.1f}% |"
        )
    lines += [
        "",
        "| Pixel 1 fit, features | LOO median | LOO max | " + " | ".join(SPACE_TOTALS_MS) + " |",
        "|---|---|---|" + "---|" * len(SPACE_TOTALS_MS),
    ]
    for name, row in results["ablation"].items():
        cells = [
            f"{ms:.2f} ({100 * (ms / results['space_totals'][which]['table_ms'] - 1):+.1f}%)"
            for which, ms in row["totals_ms"].items()
        ]
        lines.append(
            f"| {name} | {100 * row['loo']['median_ape']:.1f}% | "
            f"{100 * row['loo']['max_ape']:.1f}% | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "| network | published Pixel 1 | Pixel 1 table + model | `mobile` | `cpu` | `flops` |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["nets"].items():
        published = row["published_pixel1_ms"]
        lines.append(
            f"| {name} | {f'{published:.0f} ms' if published else '-'} | "
            f"{row['pixel1_table_plus_model_ms']:.1f} ms "
            f"({row['pixel1_table_parts_predicted']} predicted) | {row['mobile']:.1f} ms | "
            f"{row['cpu']:.1f} ms ({row['cpu_parts_predicted']} predicted) | "
            f"{row['flops']:.0f}M MACs |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Entry point: measures, prints and writes the results."""
    from absl import flags

    flag_values = flags.FLAGS
    del argv
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "anchors"
    anchors = Path(flag_values.anchors or os.environ.get("TFNAS_ANCHORS", default))
    if not (anchors / "latency" / PIXEL1).is_file():
        sys.exit(f"error: no published tables under {anchors}/latency; pass --anchors=DIR")
    results = measure(anchors)
    text = markdown(results)
    print(text)
    out = Path(flag_values.output_dir)
    write_text_atomic(out / "latency_model.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "latency_model.md", text)
    print(f"wrote {out / 'latency_model.json'} and {out / 'latency_model.md'}")


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("anchors", None, "Folder of the published reference data.")
    flags.DEFINE_string(
        "output_dir", str(Path(__file__).resolve().parent / "results"), "Where to write results."
    )
    app.run(main)
