"""`benchmarks.common`: parts recorded and checked on reuse, and the statistics of comparisons."""

import dataclasses
import json

import numpy as np
import pytest

from benchmarks import common


@pytest.fixture
def commands(monkeypatch):
    """Stands in for the parts' commands: records each, writes `summary.json` unless told."""
    ran = []

    def run_logged(module, args, log_file, ok=(0,)):
        ran.append([module, *args])
        out = next(
            a.partition("=")[2] for a in args if a.startswith(("--output_dir=", "--out_folder="))
        )
        if module == "fails":
            raise common.PartError(f"python -m {module} exited with 1; its log: {log_file}")
        (common.Path(out)).mkdir(parents=True, exist_ok=True)
        if module == "interrupted" and "--resume" not in args:
            raise KeyboardInterrupt  # the user stops it
        (common.Path(out) / "summary.json").write_text(json.dumps({"accuracy": 0.9}))

    monkeypatch.setattr(common, "run_logged", run_logged)
    return ran


def test_a_part_records_how_it_ran_and_is_reused_as_it_was(tmp_path, commands):
    arch = tmp_path / "arch.json"
    arch.write_text("{}")
    out = tmp_path / "runs" / "net"
    args = ["--experiment=x", f"--arch={arch}"]
    result = common.run_part("tfnas.train", args, out, "summary.json", resume=False)
    assert result["accuracy"] == 0.9 and len(commands) == 1
    record = json.loads((tmp_path / "runs" / "net.part.json").read_text())
    assert record["module"] == "tfnas.train" and record["args"] == args
    assert set(record["files"]) == {str(arch)} and record["commit"] == result["part"]["commit"]
    assert record["finished"] and record["minutes"] >= 0
    # Reused as it is: nothing runs again.
    again = common.run_part("tfnas.train", args, out, "summary.json", resume=False)
    assert again == result and len(commands) == 1
    # Other arguments, or another file behind the same name: refused, saying what differs.
    with pytest.raises(common.PartError, match=r"args: .*--experiment=x.* then, .*=y.* now"):
        common.run_part(
            "tfnas.train", ["--experiment=y", f"--arch={arch}"], out, "summary.json", False
        )
    arch.write_text('{"other": 1}')
    with pytest.raises(common.PartError, match=r"files: .* then, .* now\); delete .*net.part.json"):
        common.run_part("tfnas.train", args, out, "summary.json", resume=False)


def test_unfinished_parts_need_resume_and_unrecorded_folders_are_refused(tmp_path, commands):
    out = tmp_path / "net"
    with pytest.raises(KeyboardInterrupt):
        common.run_part("interrupted", [], out, "summary.json", resume=False)
    with pytest.raises(common.PartError, match="unfinished run: pass --resume"):
        common.run_part("interrupted", [], out, "summary.json", resume=False)
    assert common.run_part("interrupted", [], out, "summary.json", resume=True)["accuracy"] == 0.9
    assert commands[-1][-1] == "--resume"
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    with pytest.raises(common.PartError, match="has no record of how it was run"):
        common.run_part("tfnas.train", [], legacy, "summary.json", resume=True)
    with pytest.raises(common.PartError, match="exited with 1"):
        common.run_part("fails", [], tmp_path / "new", "summary.json", resume=False)


def test_a_part_names_its_folder_with_its_own_flag_and_may_continue_by_itself(tmp_path, commands):
    out = tmp_path / "table"
    with pytest.raises(KeyboardInterrupt):
        common.run_part("interrupted", [], out, "summary.json", False, "--out_folder", None)
    # A command that continues by itself gets no --resume; its folder comes under its own flag.
    with pytest.raises(KeyboardInterrupt):
        common.run_part("interrupted", [], out, "summary.json", True, "--out_folder", None)
    assert commands[-1] == ["interrupted", f"--out_folder={out}"]
    common.run_part("interrupted", [], out, "summary.json", True, "--out_folder", "--resume")
    assert commands[-1] == ["interrupted", f"--out_folder={out}", "--resume"]
    # A command whose arguments name its folder already gets no flag for it.
    named = tmp_path / "named"
    result = common.run_part(
        "tfnas.train", [f"--output_dir={named}"], named, "summary.json", False, None
    )
    assert result["accuracy"] == 0.9 and commands[-1] == ["tfnas.train", f"--output_dir={named}"]


def test_files_a_part_writes_do_not_define_it(tmp_path, commands):
    out = tmp_path / "table"
    table = out / "table.json"
    calibrated = tmp_path / "calibrated.json"
    calibrated.write_text("{}")
    args = [f"--out={table}", f"--table={calibrated}"]
    common.run_part(
        "tfnas.train", args, out, "summary.json", False, "--out_folder", None, [calibrated]
    )
    table.write_text('{"written": 1}')  # what the part wrote
    calibrated.write_text('{"calibration": 1}')  # what it rewrote, outside its folder
    reused = common.run_part(
        "tfnas.train", args, out, "summary.json", False, "--out_folder", None, [calibrated]
    )
    assert reused["part"]["files"] == {} and len(commands) == 1
    # Declared as only read, the rewritten file would define it, and differ.
    with pytest.raises(common.PartError, match="files: "):
        common.run_part("tfnas.train", args, out, "summary.json", False, "--out_folder", None)


def test_a_part_whose_command_would_resolve_another_config_now_is_refused(
    tmp_path, commands, monkeypatch
):
    from tfnas.config.tree import save_config
    from tfnas.train import config as train_config

    out = tmp_path / "net"
    args = ["--experiment=demo", "--arch=mobilenet_v2", "--epochs=3", "--params_override=seed=4"]
    common.run_part("tfnas.train", args, out, "summary.json", resume=False)
    # What the command would have written: the config it resolved from its flags.
    saved = common.config_now("tfnas.train", [*args, "--verbose=0", "--noresume"])
    assert (saved.recipe.epochs, saved.run.seed, saved.arch) == (3, 4, "mobilenet_v2")
    save_config(saved, train_config.CONFIG_FORMAT, out / "config.json")
    assert common.run_part("tfnas.train", args, out, "summary.json", resume=False)
    # The same flags, but the experiment's preset changed since (another learning rate).
    preset = train_config.EXPERIMENTS["demo"]
    changed = dataclasses.replace(
        preset, recipe=dataclasses.replace(preset.recipe, learning_rate=0.5)
    )
    monkeypatch.setitem(train_config.EXPERIMENTS, "demo", changed)
    with pytest.raises(
        common.PartError,
        match=r"another config than python -m tfnas.train resolves now \(learning_rate: .* -> 0.5",
    ):
        common.run_part("tfnas.train", args, out, "summary.json", resume=False)
    assert len(commands) == 1


def test_a_ledger_keeps_finished_parts_for_a_runs_folder_that_is_gone(
    tmp_path, commands, monkeypatch, capsys
):
    runs = tmp_path / "runs"
    ledger = common.PartLedger(tmp_path / "results" / "parts" / "bench.json", runs)
    arch = tmp_path / "arch.json"
    arch.write_text("{}")
    args = ["--experiment=x", f"--arch={arch}"]
    first = common.run_part("tfnas.train", args, runs / "net", "summary.json", False, ledger=ledger)
    kept = json.loads(ledger.path.read_text())
    assert kept["format"] == common.LEDGER_FORMAT and list(kept["parts"]) == ["net"]
    assert kept["parts"]["net"]["files"] == {"summary.json": {"accuracy": 0.9}}
    # A fresh checkout: the runs folder is gone, the committed ledger is not.
    common.shutil.rmtree(runs)
    again = common.run_part("tfnas.train", args, runs / "net", "summary.json", False, ledger=ledger)
    assert again == first and len(commands) == 1
    assert json.loads((runs / "net.part.json").read_text()) == first["part"]
    # Kept, but the benchmark would now run it otherwise: it runs again, and is replaced.
    common.shutil.rmtree(runs)
    other = ["--experiment=y", f"--arch={arch}"]
    rerun = common.run_part(
        "tfnas.train", other, runs / "net", "summary.json", False, ledger=ledger
    )
    assert len(commands) == 2 and "not reused, so it runs again" in capsys.readouterr().out
    assert json.loads(ledger.path.read_text())["parts"]["net"]["record"] == rerun["part"]
    # A part outside the ledger's runs folder, and a file that is no ledger: named errors.
    with pytest.raises(ValueError, match=r"not under the ledger's runs folder"):
        common.run_part(
            "tfnas.train", args, tmp_path / "elsewhere", "summary.json", False, ledger=ledger
        )
    ledger.path.write_text("{}")
    with pytest.raises(common.PartError, match=r"expected a part ledger of format"):
        ledger.entries()


def test_a_kept_part_whose_config_would_resolve_otherwise_now_runs_again(
    tmp_path, commands, monkeypatch
):
    from tfnas.config.tree import save_config
    from tfnas.train import config as train_config

    runs = tmp_path / "runs"
    ledger = common.PartLedger(tmp_path / "ledger.json", runs)
    args = ["--experiment=demo", "--arch=mobilenet_v2", "--epochs=3"]
    common.run_part("tfnas.train", args, runs / "net", "summary.json", False, ledger=ledger)
    saved = common.config_now("tfnas.train", args)
    save_config(saved, train_config.CONFIG_FORMAT, runs / "net" / "config.json")
    common.run_part("tfnas.train", args, runs / "net", "summary.json", False, ledger=ledger)
    assert "config.json" in ledger.entries()["net"]["files"]  # kept when reused, too
    common.shutil.rmtree(runs)
    assert common.run_part("tfnas.train", args, runs / "net", "summary.json", False, ledger=ledger)
    assert len(commands) == 1  # restored with its config, which still resolves the same
    common.shutil.rmtree(runs)
    preset = train_config.EXPERIMENTS["demo"]
    changed = dataclasses.replace(
        preset, recipe=dataclasses.replace(preset.recipe, learning_rate=0.5)
    )
    monkeypatch.setitem(train_config.EXPERIMENTS, "demo", changed)
    common.run_part("tfnas.train", args, runs / "net", "summary.json", False, ledger=ledger)
    assert len(commands) == 2


def test_commits_of_the_parts_are_counted():
    results = [{"part": {"commit": "a"}}, {"part": {"commit": "b"}}, {"part": {"commit": "a"}}]
    assert common.part_commits(results) == {"a": 2, "b": 1}
    assert common.current_commit() != ""


def test_samples_are_compared_with_seed_noise_welch_and_ranks():
    searched, random = [0.91, 0.912, 0.908], [0.90, 0.902, 0.898, 0.901]
    # Seeds of one network vary by 0.002: the 0.01 difference is far beyond them.
    result = common.compare_samples(searched, random, seed_variance=(0.002**2, 6))
    assert result["difference"] == pytest.approx(0.91 - 0.90025)
    assert result["pooled_p"] < 0.001 and result["welch_p"] < 0.01
    assert result["rank_p"] == pytest.approx(2 / 35)  # exact: 1 of C(7, 3) orders, two-sided
    assert (result["n_first"], result["n_second"]) == (3, 4)
    # Seeds that vary by 0.02 make the same difference noise.
    assert common.compare_samples(searched, random, (0.02**2, 6))["pooled_p"] > 0.3
    assert np.isnan(common.compare_samples([0.9], random)["welch_p"])


def test_networks_differ_when_their_means_spread_beyond_their_seeds():
    apart = [[0.90, 0.901, 0.899], [0.92, 0.921, 0.919], [0.94, 0.941, 0.939]]
    result = common.networks_differ(apart)
    assert result["p"] < 1e-6 and (result["dof_between"], result["dof_within"]) == (2, 6)
    assert result["seed_std"] == pytest.approx(0.001) and result["between_std"] == pytest.approx(
        0.02
    )
    together = [[0.90, 0.92, 0.91], [0.91, 0.90, 0.92]]
    assert common.networks_differ(together)["p"] > 0.5
    with pytest.raises(ValueError, match="at least 2 networks"):
        common.networks_differ([[0.9, 0.91]])
    with pytest.raises(ValueError, match="two seeds or more"):
        common.networks_differ([[0.9], [0.91]])


def test_kendall_tau_has_a_seeded_bootstrap_interval():
    same = common.kendall_tau([1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60])
    assert same["tau"] == pytest.approx(1.0)
    assert same["low"] == pytest.approx(1.0) and same["high"] == pytest.approx(1.0)
    mixed = common.kendall_tau([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    assert mixed["low"] < mixed["tau"] < mixed["high"] and mixed["n"] == 6
    assert mixed == common.kendall_tau([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
    with pytest.raises(ValueError, match="one length >= 3"):
        common.kendall_tau([1, 2], [1, 2])
    with pytest.raises(ValueError, match="second sequence is 0.5 throughout: it ranks nothing"):
        common.kendall_tau([1, 2, 3], [0.5, 0.5, 0.5])


def test_training_flags_are_name_value_pairs_or_a_named_error():
    from benchmarks.common import flag_pairs

    assert flag_pairs(["--weight_decay=5e-4", "--label_smoothing=0"]) == [
        ("weight_decay", "5e-4"),
        ("label_smoothing", "0"),
    ]
    assert flag_pairs([]) == []
    with pytest.raises(ValueError, match=r"--train_flags=weight_decay=1,--dropout: expected"):
        flag_pairs(["weight_decay=1", "--dropout", "--seed=1"])
