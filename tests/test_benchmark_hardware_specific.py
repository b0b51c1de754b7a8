"""`benchmarks.hardware_specific`: one search per device, both networks on both devices."""

from types import SimpleNamespace

import pytest
from host_stand_ins import deploy, flag, search_result, space_of, stand_in_parts

from benchmarks import hardware_specific as hs
from benchmarks import host_study
from tfnas.latency.model import space_latency
from tfnas.latency.targets import load_target

TARGET_MS = 1.6


def cheapest_on_mobile(pick):
    """Per choice block, the candidate `pick` (min or max) of its `mobile` latencies."""
    latency = space_latency(load_target("mobile"), space_of())
    return [block.index(pick(block)) for block in latency.candidates]


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    """The host search keeps `mobile`'s dearest candidates, the `mobile` search its cheapest;
    this host times the host's network 1.0 ms and the other 1.3 ms."""
    calls = {"parts": [], "measured": []}

    def search(args, out):
        pick = min if flag(args, "target") == "mobile" else max
        return search_result(args, out, cheapest_on_mobile(pick))

    def measure(files):
        calls["measured"].append(sorted(files))
        return {name: {"host": 1.0, "mobile": 1.3}.get(name, TARGET_MS) for name in files}

    monkeypatch.setattr(host_study, "run_part", stand_in_parts(calls, {"tfnas.search": search}))
    study = host_study.HostStudy(tmp_path / "runs", False, 20, measure=measure, deploy=deploy)
    return calls, lambda: hs.run_all(study)


def test_the_mobile_target_is_the_hosts_percentile_of_the_space_on_mobile():
    host = SimpleNamespace(latency_of=lambda c: c[0] / 100)  # 0.00 to 0.99 ms
    mobile = SimpleNamespace(latency_of=lambda c: 10 * c[0])  # 0 to 990 ms
    pool = [[k] for k in range(100)]
    assert hs.percentile_target(host, mobile, pool, 0.245) == {
        "percentile": 0.25,  # 0.00 to 0.24 are at or under it
        "mobile_ms": 240,
    }
    assert hs.percentile_target(host, mobile, pool, -1)["mobile_ms"] == 0  # under them all


def test_each_network_on_each_device_and_which_wins(stand_ins, tmp_path):
    calls, run = stand_ins
    figures = run()
    searches = {
        out.name: args for module, args, out, _ in calls["parts"] if module == "tfnas.search"
    }
    # The host's search is the third search of benchmarks.worth_deploying, on its table.
    assert set(searches) == {"search-mobilenet_v2-1-seed2", "search-mobile-seed2"}
    host_args, mobile_args = (
        searches["search-mobilenet_v2-1-seed2"],
        searches["search-mobile-seed2"],
    )
    assert flag(host_args, "target").endswith("host-table/table.json")
    assert float(flag(mobile_args, "target_latency")) == pytest.approx(figures["mobile_target_ms"])
    assert 0 < figures["percentile"] < 1
    trained = {out.name for module, _, out, _ in calls["parts"] if module == "tfnas.train"}
    assert trained == {f"{n}-seed{s}" for n in ("searched-2", "searched-mobile-2") for s in (0, 1)}

    summary = hs.summarize(figures)
    assert summary["wins_on_own_device"] == {"host": True, "mobile": True}
    host, mobile = summary["matrix"]["host"], summary["matrix"]["mobile"]
    assert (host["host_ms"], mobile["host_ms"]) == (1.0, 1.3)
    assert mobile["mobile_ms"] < host["mobile_ms"]
    arch = summary["architectures"]
    # On `mobile` the dearest candidates are 7x7 MBConv6 and the cheapest skip or 3x3.
    assert arch["host"]["kernels"] == {7: 9} and arch["host"]["expansions"] == {6: 9}
    assert arch["mobile"]["blocks"] + arch["mobile"]["skipped"] == 9
    assert arch["mobile"]["blocks"] < arch["host"]["blocks"]
    text = hs.markdown(figures, summary)
    assert "- The network searched for host is the faster of the two on host." in text
    assert "| host | 7x7_MBConv6 7x7_MBConv6" in text and "| 9 of 9 | 7x7: 9 | 6: 9 |" in text
    assert hs.plot(figures, tmp_path / "hs.png").read_bytes()[:4] == b"\x89PNG"
