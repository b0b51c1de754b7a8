"""The latency-model benchmark computes every figure the README quotes."""

import pytest

from benchmarks import latency_model


def test_benchmark_reports_every_figure(anchors):
    results = latency_model.measure(anchors)
    assert results["pixel1_loo"]["count"] == 72
    assert set(results["note10_held_out"]) == {"160", "176", "192", "208"}
    for totals in results["space_totals"].values():
        assert abs(totals["table_ms"] / totals["published_ms"] - 1) < 0.03
    text = latency_model.markdown(results)
    for name in latency_model.NETS:
        assert f"| {name} |" in text
    assert results["nets"]["proxyless_mobile"]["pixel1_table_parts_predicted"] == 3
    # The ablation's full fit is the shipped model; every ablated fit is worse on LOO.
    shipped = results["ablation"]["all (shipped)"]
    assert shipped["loo"] == results["pixel1_loo"]
    for which, totals in results["space_totals"].items():
        assert shipped["totals_ms"][which] == pytest.approx(totals["mobile_model_ms"])
    for name, row in results["ablation"].items():
        assert row["loo"]["median_ape"] >= shipped["loo"]["median_ape"], name
        assert f"| {name} |" in text
