"""`benchmarks.augmentation`: which trainings it runs, and how it reads them."""

import pytest

from benchmarks import augmentation, regime


@pytest.fixture
def trainings(monkeypatch):
    """Stands in for the trainings: augmentation costs accuracy at 10 epochs, lifts it at 20.

    Without augmentation the networks overfit more as the length grows (the
    gap between training and test accuracy widens); the wide network gains
    half a point.
    """
    calls = []

    def fake_part(module, args, out, done_file, resume, ledger=None):
        calls.append((args, out))
        values = dict(a[2:].split("=", 1) for a in args)
        epochs, augment = int(values["epochs"]), values.get("augment", "none")
        big = "mobilenet_v2" in values["arch"]
        wide = 0.005 * ("-w2" in values["arch"])
        lift = 0.0 if augment == "none" else 0.006 * epochs / 10 - 0.008
        test = 0.915 + 0.002 * big + wide + lift
        train = test + (0.05 if augment == "none" else 0.005) * epochs / 10
        history = [{"train_accuracy": train - 0.1, "seconds": 60.0}]
        history.append({"train_accuracy": train, "seconds": 80.0 if augment != "none" else 50.0})
        return {"test_accuracy": test, "history": history, "part": {"commit": "abc"}}

    monkeypatch.setattr(regime, "run_part", fake_part)
    return calls


def test_the_probe_trains_each_network_and_recipe_in_order(tmp_path, trainings):
    reported = []
    figures = augmentation.run_all(tmp_path, False, report=reported.append)
    # The results so far after each training: the last report is the whole.
    assert [len(r["trainings"]) for r in reported] == list(range(1, len(augmentation.PROBES) + 1))
    assert reported[-1] == figures
    runs = [
        (t["network"], t["length"], t["augment"], tuple(t["overrides"].items()))
        for t in figures["trainings"]
    ]
    assert runs == [(*probe, ()) if len(probe) == 3 else probe for probe in augmentation.PROBES]
    # Its trainings are the regime's parts: same folders, same commands.
    folders = [out.name for _, out in trainings]
    assert folders[:2] == ["searched-3-epochs-e10-seed0", "mobilenet_v2-e10-seed0"]
    assert folders[2] == "searched-3-epochs-e10-pad_crop_flip-seed0"
    first = figures["trainings"][0]
    assert first["train_accuracy"] == pytest.approx(0.965)  # the last epoch's
    assert first["epoch_seconds"] == pytest.approx(55.0)
    assert figures["part_commits"] == {"abc": len(augmentation.PROBES)}


def test_the_wide_network_is_the_searched_one_at_twice_the_width(tmp_path, trainings):
    from tfnas.nets.load import load_net

    figures = augmentation.run_all(tmp_path, False)
    by_name = {t["network"]: t for t in figures["trainings"]}
    narrow = load_net(str(tmp_path / "archs" / "searched-3-epochs.json"))
    wide = load_net(str(tmp_path / "archs" / f"{augmentation.WIDE}.json"))
    assert [b.op.name for b in wide.blocks] == [b.op.name for b in narrow.blocks]
    assert [b.out_channels for b in wide.blocks] == [2 * b.out_channels for b in narrow.blocks]
    # 2.5 to 4 times the parameters: the depthwise and classifier weights grow twice.
    ratio = by_name[augmentation.WIDE]["params"] / by_name["searched-3-epochs"]["params"]
    assert 2.5 < ratio < 4


def test_the_best_recipe_compares_the_networks_every_recipe_trained(tmp_path, trainings):
    # Every recipe of the default probes trains the searched network; compare it alone.
    everything = augmentation.summarize(augmentation.run_all(tmp_path, False))
    assert {tuple(r["networks"]) for r in everything["recipes"].values()} == {
        ("searched-3-epochs",)
    }
    # The probes of the two networks with and without crops (and the wide one's):
    # compare the two.
    crops = [p for p in augmentation.PROBES if len(p) == 3 and p[2] != "flip"]
    figures = augmentation.run_all(tmp_path, False, tuple(crops))
    summary = augmentation.summarize(figures)
    assert summary["best"] == "20, pad_crop_flip"
    best = summary["recipes"]["20, pad_crop_flip"]
    # Over the two networks of every recipe, not the wide one of 20 epochs alone.
    assert best["networks"] == ["mobilenet_v2", "searched-3-epochs"]
    assert best["mean_test"] == pytest.approx(0.920)  # 0.915 + 0.001 + 0.012 - 0.008
    assert summary["recipes"]["10"]["mean_test"] == pytest.approx(0.916)
    # None reaches 0.925: the wide network with augmentation comes closest (0.924).
    assert [r["network"] for r in summary["reaching"]] == []
    text = augmentation.markdown(figures, summary)
    assert "| searched-3-epochs | 86,842 | 20 | none | 1.0150 | 0.9150 | +0.1000 | 55 |" in text
    assert "of mobilenet_v2, searched-3-epochs: 20, pad_crop_flip, 0.9200." in text
    assert "Networks of at most 1,000,000 parameters at 0.925 or more: none." in text
    assert augmentation.plot(figures, tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_a_small_network_at_the_published_accuracy_is_named(tmp_path, trainings, monkeypatch):
    monkeypatch.setattr(augmentation, "GOOD_ACCURACY", 0.923)
    figures = augmentation.run_all(tmp_path, False)
    summary = augmentation.summarize(figures)
    assert summary["reaching"] == [
        {"network": augmentation.WIDE, "recipe": "20, pad_crop_flip", "test": pytest.approx(0.924)}
    ]
    assert f"0.923 or more: {augmentation.WIDE} at 20, pad_crop_flip (0.9240)." in (
        augmentation.markdown(figures, summary)
    )


def test_a_probe_may_change_other_flags_of_the_training(tmp_path, trainings):
    probes = (("searched-3-epochs", 20, "flip", (("weight_decay", "5e-4"),)),)
    figures = augmentation.run_all(tmp_path, False, probes)
    ((args, out),) = trainings
    assert args[-2:] == ["--augment=flip", "--weight_decay=5e-4"]
    assert out.name == "searched-3-epochs-e20-flip-weight_decay5e-4-seed0"
    summary = augmentation.summarize(figures)
    assert list(summary["recipes"]) == ["20, flip, --weight_decay=5e-4"]
    text = augmentation.markdown(figures, summary)
    assert "| searched-3-epochs | 86,842 | 20 | flip, --weight_decay=5e-4 | " in text
