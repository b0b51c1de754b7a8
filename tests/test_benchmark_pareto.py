"""`benchmarks.pareto`: its searches, sweeps and front, with stand-in commands and host."""

from pathlib import Path

import pytest
from host_stand_ins import deploy, flag, search_result, stand_in_parts

from benchmarks import host_study, pareto

# The stand-in host's latency (ms) and the stand-in trainings' test accuracy
# (mean over the seeds) of each network, hand-designed by width.
HAND = {
    "mobilenet_v2": {"0.35": (0.5, 0.90), "0.5": (0.8, 0.905), "0.75": (1.2, 0.911)},
    "mobilenet_v3_small": {"0.35": (0.3, 0.88), "0.5": (0.4, 0.885), "0.75": (0.6, 0.89)},
    "mobilenet_v3_large": {"0.35": (0.7, 0.90), "0.5": (1.0, 0.905), "0.75": (1.4, 0.912)},
}
HAND["mobilenet_v2"] |= {"1": (1.6, 0.915), "1.4": (2.5, 0.92)}
HAND["mobilenet_v3_small"] |= {"1": (0.8, 0.895), "1.25": (1.0, 0.90)}
HAND["mobilenet_v3_large"] |= {"1": (1.8, 0.918), "1.25": (2.2, 0.921)}
POINTS = {
    f"{family}-{width}": point for family, widths in HAND.items() for width, point in widths.items()
}
# Each search lands on its target's latency; at 1.6 ms it is beaten.
SEARCHED = {
    "searched-mobilenet_v2-0.5-2": (0.8, 0.91),
    "searched-2": (1.6, 0.9115),
    "searched-mobilenet_v2-1.4-2": (2.5, 0.925),
}
POINTS |= SEARCHED


def network_of(arch):
    """The network an arch file holds: a search's folder, or a hand-designed arch's name."""
    path = Path(arch)
    if path.parent.name.startswith("search-"):
        target = path.parent.name.removeprefix("search-").removesuffix("-seed2")
        return host_study.searched_name(target, 2)
    return path.stem


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    calls = {"parts": [], "measured": []}

    def search(args, out):
        return search_result(args, out, [int(float(flag(args, "target_latency")))] * 9)

    def train(args, out):
        # Seeds 0 and 1 straddle the network's mean; a network of one seed is its mean.
        seed, seeds = int(flag(args, "seed")), 2 if "search-" in flag(args, "arch") else 1
        accuracy = POINTS[network_of(flag(args, "arch"))][1]
        return {
            "test_accuracy": accuracy + 0.0005 * (2 * seed - (seeds - 1)),
            "params": 1000,
            "macs": 10**6,
        }

    def measure(files):
        calls["measured"].append(sorted(files))
        return {name: POINTS.get(name, (1.0,))[0] for name in files}

    answers = {"tfnas.search": search, "tfnas.train": train}
    monkeypatch.setattr(host_study, "run_part", stand_in_parts(calls, answers))

    def run(int8=False):
        study = host_study.HostStudy(
            tmp_path / "runs", False, 20, "pad_crop_flip", measure=measure, deploy=deploy
        )
        return pareto.run_all(study, int8)

    return calls, run


def test_a_search_at_each_targets_measured_latency_and_every_width_trained(stand_ins):
    calls, run = stand_ins
    figures = run()
    searches = [(args, out) for module, args, out, _ in calls["parts"] if module == "tfnas.search"]
    targets = {out.name: float(flag(args, "target_latency")) for args, out in searches}
    # Held to each target's measured latency; the one at MobileNetV2 1.0 is the third
    # search of benchmarks.worth_deploying, in the same folder.
    assert targets == {
        "search-mobilenet_v2-0.5-seed2": 0.8,
        "search-mobilenet_v2-1-seed2": 1.6,
        "search-mobilenet_v2-1.4-seed2": 2.5,
    }
    assert all(flag(args, "seed") == "2" for args, _ in searches)
    trained = [out.name for module, _, out, _ in calls["parts"] if module == "tfnas.train"]
    assert {"searched-2-seed0", "searched-2-seed1"} <= set(trained)
    # The searched networks with both seeds, each width of the three families with one.
    assert len(trained) == 2 * len(SEARCHED) + len(POINTS) - len(SEARCHED)
    assert set(figures["networks"]) == set(POINTS)
    assert figures["epochs"] == 20 and figures["augment"] == "pad_crop_flip"


def test_the_front_and_what_each_search_dominates(stand_ins, tmp_path):
    _, run = stand_ins
    figures = run()
    summary = pareto.summarize(figures)
    assert set(summary) == {"float32"}
    result = summary["float32"]
    assert result["points"]["searched-2"] == [1.6, pytest.approx(0.9115)]
    searched = result["searched"]
    assert searched["searched-2"]["dominated_by"] == ["mobilenet_v2-1", "mobilenet_v3_large-0.75"]
    assert searched["searched-mobilenet_v2-0.5-2"] == {
        "dominated_by": [],
        "dominates": [
            "mobilenet_v2-0.5",
            "mobilenet_v3_large-0.5",
            "mobilenet_v3_small-1",
            "mobilenet_v3_small-1.25",
        ],
    }
    assert searched["searched-mobilenet_v2-1.4-2"]["dominates"] == ["mobilenet_v2-1.4"]
    on_front = {name for name, f in result["front"].items() if f["on_front"]}
    # By latency: each point more accurate than every faster one.
    assert on_front == {
        "mobilenet_v3_small-0.35",
        "mobilenet_v3_small-0.5",
        "mobilenet_v2-0.35",
        "searched-mobilenet_v2-0.5-2",
        "mobilenet_v2-0.75",
        "mobilenet_v3_large-0.75",
        "mobilenet_v2-1",
        "mobilenet_v3_large-1",
        "mobilenet_v3_large-1.25",
        "searched-mobilenet_v2-1.4-2",
    }
    text = pareto.markdown(figures, summary)
    assert "| searched-2 | ProxylessNAS at mobilenet_v2-1 | 2 | 1.6000 | 0.9115 |  |" in text
    assert "| mobilenet_v2-1 | MobileNetV2 1 | 1 | 1.6000 | 0.9150 | yes |" in text
    assert "- searched-2: dominated by mobilenet_v2-1, mobilenet_v3_large-0.75; dominates" in text
    assert pareto.plot(figures, tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_int8_is_a_second_panel_of_its_own_files(stand_ins, tmp_path):
    calls, run = stand_ins
    figures = run(int8=True)
    exports = [(args, out) for module, args, out, _ in calls["parts"] if module == "deploy.export"]
    int8 = [(args, out) for args, out in exports if flag(args, "formats") == "int8"]
    assert len(int8) == len(POINTS)
    assert all(flag(args, "check_images") == "10000" for args, _ in int8)
    assert all(out.parent.name == "export-int8" for _, out in int8)
    assert len(calls["measured"]) == 3  # the widths, the float32 files, the int8 files
    summary = pareto.summarize(figures)
    assert set(summary) == {"float32", "int8"}
    assert "**int8**" in pareto.markdown(figures, summary)
    assert pareto.plot(figures, tmp_path / "pareto.png").exists()
