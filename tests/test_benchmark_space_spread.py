"""`benchmarks.space_spread`: its statistics, its order of trainings, its wiring and its report."""

import json
import statistics

import pytest

from benchmarks import space_spread


def test_the_seed_spread_is_pooled_over_networks_by_degrees_of_freedom():
    three, two = [0.90, 0.91, 0.93], [0.80, 0.82]
    expected = ((statistics.variance(three) * 2 + statistics.variance(two)) / 3) ** 0.5
    assert space_spread.pooled_seed_std([three, two, [0.5]]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="two seeds or more, got none"):
        space_spread.pooled_seed_std([[0.9], [0.8]])


def test_latency_share_is_the_r2_of_a_line():
    assert space_spread.latency_share([1, 2, 3], [0.8, 0.85, 0.9]) == pytest.approx(1.0)
    assert space_spread.latency_share([1, 2, 3, 4], [0.9, 0.8, 0.8, 0.9]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at least 3 points with varying values, got 2"):
        space_spread.latency_share([1, 2], [0.8, 0.9])


def test_every_network_gets_seed_0_before_any_network_gets_another_seed():
    order = space_spread.trainings(4)
    assert order[:4] == [(0, 0), (1, 0), (2, 0), (3, 0)]
    extra = order[4:]
    assert sorted(extra) == sorted(
        (k, seed) for k in range(space_spread.SEEDED) for seed in space_spread.SEEDS[1:]
    )


def test_networks_are_drawn_once_from_the_whole_space_and_trained_alike(tmp_path, monkeypatch):
    from tfnas.nets.registry import SPACES

    calls = []

    def fake_part(module, args, out, done_file, resume):
        calls.append((module, args))
        seed = int(args[-1].removeprefix("--seed="))
        return {"test_accuracy": 0.9 - 0.01 * len(calls) + 0.001 * seed}

    monkeypatch.setattr(space_spread, "run_part", fake_part)
    runs = tmp_path / "runs"
    figures = space_spread.run_all(runs, resume=False)

    assert len(calls) == space_spread.NETWORKS + space_spread.SEEDED * 2
    assert all(module == "tfnas.train" for module, _ in calls)
    assert all(args[0] == "--experiment=fashion_mnist" and len(args) == 3 for _, args in calls)
    networks = figures["networks"]
    assert [len(net["test_accuracies"]) for net in networks] == [3, 3] + [1] * 6
    space = SPACES.get("fashion_mnist")
    sizes = [len(block.candidates) for block in space.choice_blocks]
    for net in networks:
        assert all(0 <= c < n for c, n in zip(net["choices"], sizes, strict=True))
        assert net["predicted_mobile"] > 0 and net["predicted_cpu"] > 0
    # No latency limit: the draws are the first uniform ones, whatever their latency.
    from benchmarks.common import draw_choices

    assert [n["choices"] for n in networks] == draw_choices(sizes, 8, space_spread.DRAW_SEED)
    # Drawn once: a second run reads the same networks back.
    kept = json.loads((runs / "networks.json").read_text())
    assert [n["choices"] for n in space_spread.draw_networks(runs)] == [n["choices"] for n in kept]


def _figures(tmp_path):
    arch = tmp_path / "net.json"
    arch.write_text(
        json.dumps({"blocks": [{"op": "3x3_MBConv1"}, {"op": "Zero"}, {"op": "5x5_MBConv6"}]})
    )
    networks = [
        {"name": "net-0", "arch": str(arch), "test_accuracies": [0.90, 0.91, 0.92]},
        {"name": "net-1", "arch": str(arch), "test_accuracies": [0.85, 0.86, 0.84]},
        {"name": "net-2", "arch": str(arch), "test_accuracies": [0.88]},
    ]
    for k, net in enumerate(networks):
        net["predicted_mobile"] = 1.0 + k
    return {"experiment": "fashion_mnist", "target": "mobile", "machine": "x", "networks": networks}


def test_the_report_gives_both_spreads_and_their_ratio(tmp_path):
    figures = _figures(tmp_path)
    summary = space_spread.summarize(figures)
    between = statistics.stdev([0.90, 0.85, 0.88])
    assert summary["between_networks"]["std"] == pytest.approx(between)
    assert summary["between_seeds"] == pytest.approx(0.01)
    assert summary["ratio"] == pytest.approx(between / 0.01)
    text = space_spread.markdown(figures, summary)
    assert "| net-1 | 5x5_MBConv6 | 2.000 | 0.8500, 0.8600, 0.8400 |" in text
    assert f"Between networks (seed 0): 0.8767 ± {between:.4f}, range 0.8500 to 0.9000." in text
    assert f"Ratio {between / 0.01:.1f};" in text
    path = space_spread.plot(figures, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
