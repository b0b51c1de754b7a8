"""`benchmarks.search_vs_random`: its random draws, its statistics, its parts and its report."""

import json
import statistics

import numpy as np
import pytest

from benchmarks import search_vs_random as svr


def test_draws_are_uniform_over_each_block_distinct_and_repeatable():
    sizes = [6, 7, 7]
    draws = svr.draw_choices(sizes, 3000, seed=0)
    assert draws == svr.draw_choices(sizes, 3000, seed=0)
    assert len({tuple(d) for d in draws}) == len(draws)
    counts = np.zeros((3, 7))
    for choices in draws:
        for block, index in enumerate(choices):
            counts[block, index] += 1
    for block, n in enumerate(sizes):
        expected = len(draws) / n
        # A binomial count's standard deviation is sqrt(N p (1 - p)); 5 of them is never by chance.
        sigma = (len(draws) * (1 / n) * (1 - 1 / n)) ** 0.5
        assert np.all(np.abs(counts[block, :n] - expected) < 5 * sigma)
        assert np.all(counts[block, n:] == 0)


def test_random_networks_are_the_ones_within_the_limit_closest_to_the_search():
    latencies = [1.0, 1.6, 1.45, 1.2, 1.52, 1.49, 0.8]
    picked = svr.pick_random_archs(latencies, 3, limit=1.5, center=1.48)
    assert picked == [5, 2, 3]  # 1.49, 1.45, 1.2; never 1.52 or 1.6 above the limit
    with pytest.raises(ValueError, match="only 5 of 7 uniform draws are within the limit 1.5"):
        svr.pick_random_archs(latencies, 6, limit=1.5, center=1.48)


def test_improvement_compares_the_searched_seeds_with_the_random_networks():
    searched, random = [0.90, 0.91, 0.92], [0.86, 0.88, 0.89, 0.87]
    better = svr.improvement(searched, random)
    assert better["points"] == pytest.approx(0.91 - 0.875)
    assert better["relative"] == pytest.approx(0.035 / 0.875)
    assert better["error_reduction"] == pytest.approx(0.035 / 0.125)
    stderr = (statistics.variance(searched) / 3 + statistics.variance(random) / 4) ** 0.5
    assert better["welch_t"] == pytest.approx(0.035 / stderr)
    assert better["rank"] == 4
    assert svr.improvement([0.85], random)["rank"] == 0
    assert svr.spread([0.5])["std"] == 0.0


def test_kendall_tau_counts_concordant_minus_discordant_pairs():
    assert svr.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert svr.kendall_tau([1, 2, 3, 4], [40, 30, 20, 10]) == -1.0
    assert svr.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="one length >= 2, got 2 and 3"):
        svr.kendall_tau([1, 2], [1, 2, 3])


def test_epoch_seconds_are_averaged_per_phase(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    history = [
        {"phase": "warmup", "seconds": 60.0},
        {"phase": "search", "seconds": 100.0},
        {"phase": "search", "seconds": 110.0},
    ]
    (tmp_path / "checkpoints" / "state.json").write_text(json.dumps({"history": history}))
    assert svr.epoch_seconds(tmp_path) == {"warmup": 60.0, "search": 105.0}


def _figures(tmp_path):
    def arch(name):
        path = tmp_path / f"{name}.json"
        blocks = [{"op": "3x3_MBConv1"}, {"op": "5x5_MBConv6"}, {"op": "Zero"}]
        path.write_text(json.dumps({"blocks": blocks}))
        return str(path)

    def net(accuracies, latency):
        return {
            "test_accuracies": accuracies,
            "supernet_accuracy": statistics.fmean(accuracies) - 0.1,
            "predicted_mobile": latency,
            "predicted_cpu": latency / 4,
            "measured_ms": latency / 3,
        }

    networks = {
        "proxylessnas": net([0.90, 0.91, 0.92], 1.48),
        "keras-tuner random": net([0.89], 1.3),
        "random-0": net([0.87], 1.49),
        "random-1": net([0.88], 1.45),
        "no latency term": net([0.905], 2.4),
        "search at 0.35 ms on cpu": net([0.88], 1.2),
    }
    for name, network in networks.items():
        network["arch"] = arch(name.replace(" ", "_"))
    return {
        "experiment": "fashion_mnist",
        "target": "mobile",
        "target_latency": 1.5,
        "second_target": ["cpu", 0.35],
        "device": "host CPU",
        "machine": "x86_64, 2 cores",
        "recipe": {"search_epochs": "1 warmup + 2", "train_epochs": 3},
        "networks": networks,
        "agreement": {
            "search": {"reported": 0.85, "independent": 0.85},
            "training": {"reported": 0.91, "independent": 0.9101},
        },
        "random": ["random-0", "random-1"],
        "cost": {
            "search_minutes": 7.5,
            "search_images": 250_000,
            "tuner_minutes": 6.0,
            "tuner_trials": 4,
            "search_epoch_seconds": {"warmup": 80.0, "search": 120.0},
            "training_epoch_seconds": 82.0,
        },
    }


def test_the_report_gives_every_method_the_improvement_the_spreads_and_the_cost(tmp_path):
    figures = _figures(tmp_path)
    summary = svr.summarize(figures)
    assert summary["random"]["mean"] == pytest.approx(0.875)
    assert summary["arch_to_seed_spread"] == pytest.approx(
        statistics.stdev([0.87, 0.88]) / statistics.stdev([0.90, 0.91, 0.92])
    )
    text = svr.markdown(figures, summary)
    assert (
        "| ProxylessNAS at 1.5 ms on `mobile` (seeds of its network) | 0.9100 ± 0.0100 (n=3) |"
        in (text)
    )
    assert (
        "| 2 random networks at its latency (one seed each; means) | 0.8750 ± 0.0071 (n=2) "
        "| 1.470 |" in text
    )
    assert "| ProxylessNAS without its latency term | 0.9050 | 2.400 |" in text
    assert "+3.50 points (+4.00% relative; +28.0% of their mean error)" in text
    assert "its mean beats 2 of 2" in text
    assert "80 s per warmup epoch, 120 s per search epoch, against 82 s per epoch" in text
    assert "| random-1 | 5x5_MBConv6 | 1.450 | 0.483 | 0.780 | 0.8800 |" in text
    # The supernet's accuracies are the trained ones shifted: the same order; one pair
    # (0.88 twice) is tied in both and counts neither way.
    assert summary["supernet_kendall_tau"] == pytest.approx(14 / 15)
    assert "Kendall's tau +0.93 between the 6 networks'" in text
    assert "search 0.8500 vs 0.8500; training 0.9100 vs 0.9101" in text


def test_the_plot_is_written(tmp_path):
    path = svr.plot(_figures(tmp_path), tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_network_is_trained_with_the_same_recipe_and_the_random_ones_at_its_latency(
    tmp_path, monkeypatch
):
    from tfnas.nets import spec_json
    from tfnas.nets.registry import SPACES

    space = SPACES.get("fashion_mnist")
    searched_choices = [5, 6, 3, 5, 6, 4, 2, 1, 0]
    for name in ("searched", "tuner"):
        spec_json.save_spec(space.select(searched_choices), tmp_path / f"{name}.json")
    calls = []

    def fake_part(module, args, out, done_file, resume):
        calls.append((module, args, out.name))
        if module == "tfnas.compare":
            row = {"choices": searched_choices, "test_accuracies": [0.9], "seconds": 60.0}
            return {
                "rows": [
                    {
                        **row,
                        "method": "proxylessnas",
                        "arch": str(tmp_path / "searched.json"),
                        "predicted_latency": 1.58,
                    },
                    {
                        **row,
                        "method": "random",
                        "arch": str(tmp_path / "tuner.json"),
                        "predicted_latency": 1.4,
                        "trials": 3,
                    },
                ],
                "train_epochs": 3,
                "budget_images": 1000,
            }
        if module == "tfnas.search":
            out.mkdir(parents=True)
            spec_json.save_spec(space.select(searched_choices), out / "arch.json")
            return {
                "choices": searched_choices,
                "ops": [],
                "latency": 1.0,
                "unit": "ms",
                "expected_latency": 1.0,
            }
        return {"test_accuracy": 0.88}

    monkeypatch.setattr(svr, "run_part", fake_part)
    monkeypatch.setattr(svr, "measure", lambda archs, runs: ({n: 1.0 for n in archs}, "host"))
    monkeypatch.setattr(svr, "agreement_checks", lambda runs: {})
    monkeypatch.setattr(
        svr, "supernet_accuracies", lambda compare, choices, ranking: {n: 0.5 for n in choices}
    )
    monkeypatch.setattr(svr, "epoch_seconds", lambda run: {"train": 1.0})
    figures = svr.run_all(tmp_path / "runs", resume=False)

    trainings = [args for module, args, _ in calls if module == "tfnas.train"]
    assert len(trainings) == 2 + svr.RANDOM_ARCHS + len(svr.ABLATIONS)
    # The same experiment and nothing else but the network and the seed.
    assert all(args[0] == "--experiment=fashion_mnist" and len(args) == 3 for args in trainings)
    assert [args[2] for args in trainings[:2]] == ["--seed=1", "--seed=2"]
    random = [figures["networks"][name] for name in figures["random"]]
    assert len(random) == svr.RANDOM_ARCHS
    # Within the limit: the search landed above its target, so its own 1.58 ms.
    assert all(net["predicted_mobile"] <= 1.58 + 1e-9 for net in random)
    assert min(net["predicted_mobile"] for net in random) > 1.4  # the closest of 20,000 draws
    assert figures["networks"]["proxylessnas"]["test_accuracies"] == [0.9, 0.88, 0.88]
