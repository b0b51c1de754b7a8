"""`benchmarks.augmentation`: which trainings it runs, and how it reads them."""

import pytest

from benchmarks import augmentation, regime


@pytest.fixture
def trainings(monkeypatch):
    """Stands in for the trainings: augmentation costs accuracy at 10 epochs, lifts it at 20.

    Without augmentation the networks overfit more as the length grows (the
    gap between training and test accuracy widens).
    """
    calls = []

    def fake_part(module, args, out, done_file, resume):
        calls.append((args, out))
        values = dict(a[2:].split("=", 1) for a in args)
        epochs, augment = int(values["epochs"]), values.get("augment", "none")
        big = "mobilenet_v2" in values["arch"]
        test = 0.915 + 0.002 * big + (0.0 if augment == "none" else 0.006 * epochs / 10 - 0.008)
        train = test + (0.05 if augment == "none" else 0.005) * epochs / 10
        history = [{"train_accuracy": train - 0.1, "seconds": 60.0}]
        history.append({"train_accuracy": train, "seconds": 80.0 if augment != "none" else 50.0})
        return {"test_accuracy": test, "history": history, "part": {"commit": "abc"}}

    monkeypatch.setattr(regime, "run_part", fake_part)
    return calls


def test_the_probe_trains_two_networks_at_each_length_and_augmentation(tmp_path, trainings):
    figures = augmentation.run_all(tmp_path, False)
    runs = [(t["network"], t["length"], t["augment"]) for t in figures["trainings"]]
    assert runs == [
        (net, length, augment)
        for length in (10, 20)
        for augment in ("none", "pad_crop_flip")
        for net in ("searched-3-epochs", "mobilenet_v2")
    ]
    # Its trainings are the regime's parts: same folders, same commands.
    folders = [out.name for _, out in trainings]
    assert folders[:2] == ["searched-3-epochs-e10-seed0", "mobilenet_v2-e10-seed0"]
    assert folders[2] == "searched-3-epochs-e10-pad_crop_flip-seed0"
    first = figures["trainings"][0]
    assert first["train_accuracy"] == pytest.approx(0.965)  # the last epoch's
    assert first["epoch_seconds"] == pytest.approx(55.0)
    assert figures["part_commits"] == {"abc": 8}


def test_the_best_recipe_is_the_highest_mean_over_the_networks(tmp_path, trainings):
    figures = augmentation.run_all(tmp_path, False)
    summary = augmentation.summarize(figures)
    assert summary["best"] == "20, pad_crop_flip"
    best = summary["recipes"]["20, pad_crop_flip"]
    assert best["mean_test"] == pytest.approx(0.920)  # 0.915 + 0.001 + 0.012 - 0.008
    assert not best["reaches"]  # the searched network's 0.919 is under 0.925
    assert summary["recipes"]["10"]["mean_test"] == pytest.approx(0.916)
    text = augmentation.markdown(figures, summary)
    assert "| searched-3-epochs | 86,842 | 20 | none | 1.0150 | 0.9150 | +0.1000 | 55 |" in text
    assert "Best recipe (mean test accuracy over the networks): 20 epochs, " in text
    assert "not every network reaches 0.925." in text
    assert augmentation.plot(figures, tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
