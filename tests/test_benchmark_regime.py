"""`benchmarks.regime`: its networks, its order of trainings, its F tests and its report."""

import copy

import pytest

from benchmarks import regime

NAMES = [
    "searched-3-epochs",
    "mobilenet_v2",
    "space-median",
    "space-near-0",
    "space-near-1",
    "space-smallest",
    "space-largest",
]


class Calls(list):
    """The trainings run, and in `kept` the ledger each was given."""

    kept: list


@pytest.fixture
def trainings(monkeypatch):
    """Stands in for the trainings: networks apart at 10 epochs, within their seeds at 3.

    The smallest network is far behind at any length, so the F test over every
    network finds a difference that the one over the networks at one latency does not.
    """
    calls, kept = Calls(), []

    def fake_part(module, args, out, done_file, resume, ledger=None):
        calls.append((module, args))
        kept.append(ledger)
        values = dict(a[2:].split("=", 1) for a in args)
        name = values["arch"].rsplit("/", 1)[1].removesuffix(".json")
        epochs, seed = int(values["epochs"]), int(values["seed"])
        rank = NAMES.index(name)
        gap = 0.0005 if epochs < 10 else 0.004
        accuracy = 0.90 + gap * rank + 0.002 * (seed - 1) * (-1) ** rank
        if name == "space-smallest":
            accuracy -= 0.03
        return {"test_accuracy": accuracy, "part": {"commit": "abc-dirty"}}

    monkeypatch.setattr(regime, "run_part", fake_part)
    calls.kept = kept
    return calls


def test_the_study_trains_every_network_and_seed_shortest_length_first(tmp_path, trainings):
    reported = []
    figures = regime.run_all(
        tmp_path, False, lengths=(10, 3), report=lambda f: reported.append(copy.deepcopy(f))
    )
    networks = {n["name"]: n for n in figures["networks"]}
    assert list(networks) == NAMES
    assert networks["searched-3-epochs"]["predicted_mobile"] == pytest.approx(1.580, abs=5e-4)
    at_one_latency = [name for name, n in networks.items() if n["at_one_latency"]]
    assert at_one_latency == NAMES[:5]  # within ±10% of 1.58 ms: not the two extremes
    small, large = networks["space-smallest"], networks["space-largest"]
    assert small["params"] < networks["space-median"]["params"] < large["params"]
    # The space's range (the two extremes) trains at the shortest length only.
    assert len(trainings) == len(regime.SEEDS) * (len(NAMES) + len(at_one_latency))
    epochs = [dict(a[2:].split("=", 1) for a in args)["epochs"] for _, args in trainings]
    assert epochs == ["3"] * 21 + ["10"] * 15
    assert "space-smallest" not in figures["lengths"]["10"]["accuracies"]
    assert all(args[0] == "--experiment=fashion_mnist" for _, args in trainings)
    # The report comes after each round of seeds from the second on (an F
    # test needs two), with the lengths so far.
    assert [
        (list(r["lengths"]), r["lengths"][max(r["lengths"], key=int)]["seeds_done"])
        for r in reported
    ] == [(["3"], 2), (["3"], 3), (["3", "10"], 2), (["3", "10"], 3)]
    assert figures["part_commits"] == {"abc-dirty": 36}
    # The networks are written once: a second study reads the same files.
    again = regime.study_networks(tmp_path)
    assert [n["arch"] for n in again] == [n["arch"] for n in figures["networks"]]


def test_the_chosen_length_is_the_shortest_where_networks_at_one_latency_differ(
    tmp_path, trainings
):
    figures = regime.run_all(tmp_path, False, lengths=(3, 10))
    summary = regime.summarize(figures)
    three, ten = summary["lengths"]["3"], summary["lengths"]["10"]
    # At 3 epochs only the smallest network stands out: every network differs, those
    # at one latency do not.
    assert three["f_test_all"]["p"] < 0.05 and not three["differ"]
    assert ten["differ"] and summary["chosen_length"] == 10
    assert (ten["f_test"]["dof_between"], ten["f_test"]["dof_within"]) == (4, 10)
    assert not summary["reaches_good_accuracy"]  # the best mean is 0.924
    text = regime.markdown(figures, summary)
    assert "at one latency differ at p < 0.05: 10 epochs" in text
    assert "under the 0.925 of published small CNNs" in text
    assert "| mobilenet_v2 * | " in text and "| space-smallest | " in text
    assert "Trainings by the commit they started from: abc-dirty (36)." in text
    assert "| space-smallest | 14,442 | 0.6M | 0.366 | 0.8" in text and " | — |" in text
    assert regime.plot(figures, tmp_path / "regime.png").read_bytes()[:4] == b"\x89PNG"
    assert regime.chosen_length({"3": {"differ": False}}) is None


def test_lengths_stop_at_the_first_that_separates_networks_at_a_good_accuracy(
    tmp_path, trainings, monkeypatch
):
    monkeypatch.setattr(regime, "GOOD_ACCURACY", 0.91)  # the fake's best at 10 epochs: 0.916
    figures = regime.run_all(tmp_path, False, lengths=(3, 10, 20))
    assert list(figures["lengths"]) == ["3", "10"] and figures["skipped_lengths"] == [20]
    assert {dict(a[2:].split("=", 1) for a in args)["epochs"] for _, args in trainings} == {
        "3",
        "10",
    }
    text = regime.markdown(figures, regime.summarize(figures))
    assert "10 epochs; the best network's mean there is 0.9" in text
    assert "Not trained, being longer: 20 epochs." in text


def test_an_augmented_study_names_its_augmentation_in_commands_folders_and_report(
    tmp_path, trainings
):
    figures = regime.run_all(tmp_path, False, lengths=(3,), augment="pad_crop_flip")
    assert all(args[-1] == "--augment=pad_crop_flip" for _, args in trainings)
    assert figures["augment"] == "pad_crop_flip"
    text = regime.markdown(figures, regime.summarize(figures))
    assert "trained with `pad_crop_flip` augmentation" in text
    assert regime.results_name("pad_crop_flip") == "regime-pad_crop_flip"
    # Without augmentation the command and the folder stay as they were before
    # `augment` existed, so those trainings are reused.
    assert regime.results_name("none") == "regime"
    assert "augmentation" not in regime.markdown(
        {**figures, "augment": "none"}, regime.summarize(figures)
    )


def test_trainings_without_augmentation_keep_their_folder_and_command(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(
        regime,
        "run_part",
        lambda module, args, out, done, resume, ledger=None: calls.append((args, out)),
    )
    net = {"name": "net", "arch": "a.json"}
    regime.train(tmp_path, net, 10, 2, "none", True)
    regime.train(tmp_path, net, 10, 2, "pad_crop", True)
    (plain, plain_out), (augmented, augmented_out) = calls
    assert plain == [
        "--experiment=fashion_mnist",
        "--arch=a.json",
        "--epochs=10",
        "--seed=2",
    ]
    assert augmented == [*plain, "--augment=pad_crop"]
    assert plain_out == tmp_path / "net-e10-seed2"
    assert augmented_out == tmp_path / "net-e10-pad_crop-seed2"


def test_a_study_with_other_training_flags_names_them_everywhere(tmp_path, trainings):
    figures = regime.run_all(tmp_path, False, (3,), None, "flip", [("weight_decay", "5e-4")])
    assert all(args[-2:] == ["--augment=flip", "--weight_decay=5e-4"] for _, args in trainings)
    assert regime.results_name("flip", [("weight_decay", "5e-4")]) == "regime-flip-weight_decay5e-4"
    assert "trained with `flip` augmentation, `--weight_decay=5e-4`, seeds" in regime.markdown(
        figures, regime.summarize(figures)
    )


def test_without_the_space_range_only_the_networks_at_one_latency_train(tmp_path, trainings):
    figures = regime.run_all(tmp_path, False, (20,), None, "flip", space_range=False)
    names = {dict(a[2:].split("=", 1) for a in args)["arch"] for _, args in trainings}
    assert sorted(n.rsplit("/", 1)[1].removesuffix(".json") for n in names) == sorted(NAMES[:5])
    assert [n["name"] for n in figures["networks"]] == NAMES[:5]
    assert len(trainings) == 5 * len(regime.SEEDS)
    assert "space-smallest" not in regime.markdown(figures, regime.summarize(figures))


def test_a_length_with_seeds_still_training_is_reported_but_not_chosen(tmp_path, trainings):
    reported = []
    regime.run_all(tmp_path, False, (10,), lambda f: reported.append(copy.deepcopy(f)))
    partial = reported[0]
    assert partial["lengths"]["10"]["seeds_done"] == 2
    summary = regime.summarize(partial)
    # The stand-in's networks differ at 10 epochs already with two seeds, yet
    # the length is not the regime until every seed has trained.
    assert summary["lengths"]["10"]["differ"]
    assert summary["chosen_length"] is None
    assert "10 epochs (2 of 3 seeds)" in regime.markdown(partial, summary)
    final = regime.summarize(reported[-1])
    assert final["chosen_length"] == 10
    assert "(3 of 3 seeds)" not in regime.markdown(reported[-1], final)


def test_every_training_is_kept_in_the_ledger_it_is_given(tmp_path, trainings):
    ledger = regime.PartLedger(tmp_path / "parts" / "regime-flip.json", tmp_path)
    regime.run_all(tmp_path, False, (20,), None, "flip", space_range=False, ledger=ledger)
    assert len(trainings.kept) == 5 * len(regime.SEEDS)
    assert all(kept is ledger for kept in trainings.kept)
