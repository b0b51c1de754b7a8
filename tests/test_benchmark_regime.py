"""`benchmarks.regime`: its networks, its order of trainings, its F tests and its report."""

import pytest

from benchmarks import regime


@pytest.fixture
def trainings(monkeypatch):
    """Stands in for the trainings: the larger the network and the longer, the more accurate."""
    calls = []

    def fake_part(module, args, out, done_file, resume):
        calls.append((module, args))
        values = dict(a[2:].split("=", 1) for a in args)
        rank = [
            "space-smallest",
            "space-median",
            "searched-3-epochs",
            "space-largest",
            "mobilenet_v2",
        ].index(values["arch"].rsplit("/", 1)[1].removesuffix(".json"))
        epochs, seed = int(values["epochs"]), int(values["seed"])
        # At 3 epochs the networks are within their seed noise; at 10 they are apart.
        gap = 0.0005 if epochs < 10 else 0.004
        accuracy = 0.90 + gap * rank + 0.002 * (seed - 1) * (-1) ** rank
        return {"test_accuracy": accuracy, "part": {"commit": "abc"}}

    monkeypatch.setattr(regime, "run_part", fake_part)
    return calls


def test_the_study_trains_every_network_and_seed_shortest_length_first(tmp_path, trainings):
    reported = []
    figures = regime.run_all(tmp_path, False, lengths=(10, 3), report=reported.append)
    networks = figures["networks"]
    assert [n["name"] for n in networks] == [
        "space-smallest",
        "space-median",
        "searched-3-epochs",
        "space-largest",
        "mobilenet_v2",
    ]
    assert networks[0]["params"] < networks[1]["params"] < networks[3]["params"]
    assert networks[0]["predicted_mobile"] < networks[3]["predicted_mobile"]
    assert networks[2]["predicted_mobile"] == pytest.approx(1.580, abs=5e-4)
    assert len(trainings) == 2 * len(regime.SEEDS) * 5
    epochs = [dict(a[2:].split("=", 1) for a in args)["epochs"] for _, args in trainings]
    assert epochs == ["3"] * 15 + ["10"] * 15
    assert all(args[0] == "--experiment=fashion_mnist" for _, args in trainings)
    # The report comes after each length, with the lengths finished so far.
    assert len(reported) == 2 and list(reported[-1]["lengths"]) == ["3", "10"]
    assert figures["part_commits"] == {"abc": 30}
    # The networks are written once: a second study reads the same files.
    again = regime.study_networks(tmp_path)
    assert [n["arch"] for n in again] == [n["arch"] for n in networks]


def test_the_chosen_length_is_the_shortest_where_networks_differ(tmp_path, trainings):
    figures = regime.run_all(tmp_path, False, lengths=(3, 10))
    summary = regime.summarize(figures)
    assert not summary["lengths"]["3"]["differ"] and summary["lengths"]["10"]["differ"]
    assert summary["chosen_length"] == 10
    assert summary["lengths"]["10"]["f_test"]["dof_between"] == 4
    assert summary["lengths"]["10"]["f_test"]["dof_within"] == 10
    assert not summary["reaches_good_accuracy"]  # the best mean is 0.916
    text = regime.markdown(figures, summary)
    assert "The shortest length at which the networks differ at p < 0.05: 10 epochs" in text
    assert "under the 0.925 of published small CNNs" in text
    assert "| mobilenet_v2 | " in text and "Trainings by commit: abc (30)." in text
    assert regime.plot(figures, tmp_path / "regime.png").read_bytes()[:4] == b"\x89PNG"
    assert regime.chosen_length({"3": {"differ": False}}) is None
