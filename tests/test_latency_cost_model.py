"""The fitted cost model: recovers known costs, reports honest errors, ships reproducible data."""

import numpy as np
import pytest
from toy_search import synthetic_table

from tfnas.errors import FieldError
from tfnas.latency import cost_model
from tfnas.latency.features import FEATURES, SPILL_FEATURES, key_macs
from tfnas.latency.keys import spec_parts
from tfnas.latency.table import LatencyTable, Measurement, load_table
from tfnas.latency.targets import DATA_DIR
from tfnas.nets.costs import net_cost
from tfnas.nets.load import load_net
from tfnas.nets.registry import NETS

PIXEL1 = "pixel1_proxylessnas_mobile_trim.yaml"


def test_fit_recovers_the_coefficients_that_generated_the_table():
    true = np.linspace(0.05, 0.5, len(FEATURES))
    true[FEATURES.index("se_elements")] = 0.0  # no squeeze-excite in this space
    true[FEATURES.index("hswish_elements")] = 0.0
    table = synthetic_table(true, widths=(0.75, 1.0, 1.4))
    model = cost_model.fit([table])
    assert model.report["loo"]["median_ape"] < 1e-6
    held_out = synthetic_table(true, widths=(1.2,), resolutions=(192,))
    assert cost_model.evaluate(model, held_out).max_ape < 1e-6


def test_coefficients_are_never_negative():
    rng = np.random.default_rng(0)
    table = synthetic_table(np.full(len(FEATURES), 0.1))
    noisy = {k: Measurement(m.mean * rng.uniform(0.5, 1.5), 0, 1) for k, m in table.entries.items()}
    model = cost_model.fit([LatencyTable(table.metadata, noisy)], with_loo=False)
    assert min(model.coefficients.values()) >= 0


def test_an_ablation_holds_the_dropped_features_at_zero():
    table = synthetic_table(np.full(len(FEATURES), 0.1))
    full = cost_model.fit([table], with_loo=False)
    assert all(full.coefficients[name] > 0 for name in SPILL_FEATURES)  # the space spills
    ablated = cost_model.fit([table], drop=SPILL_FEATURES, with_loo=False)
    assert all(ablated.coefficients[name] == 0 for name in SPILL_FEATURES)
    assert ablated.report["dropped"] == sorted(SPILL_FEATURES)
    # Without features that generated the table, held-out entries are predicted worse.
    exact = cost_model.leave_one_out([table]).median_ape
    assert cost_model.leave_one_out([table], drop=SPILL_FEATURES).median_ape > exact + 1e-3
    with pytest.raises(ValueError, match=r"cannot drop \['flops'\]: not features"):
        cost_model.fit([table], drop=["flops"])


def test_macs_features_equal_the_spec_cost_counter():
    """The flops target and the features count MACs exactly as tfnas.nets.costs does."""
    for name in NETS.names():
        spec = load_net(name)
        total = sum(key_macs(p.keys[0]) for p in spec_parts(spec) if p.keys[0] is not None)
        assert total == net_cost(spec).macs, name


def test_save_load_round_trip_and_errors(tmp_path):
    model = cost_model.fit([synthetic_table(np.full(len(FEATURES), 0.1))], with_loo=False)
    path = cost_model.save_cost_model(model, tmp_path / "m.json")
    assert cost_model.load_cost_model(path) == model
    data = path.read_text().replace('"gemm_macs"', '"flops"')
    (tmp_path / "old.json").write_text(data)
    with pytest.raises(FieldError, match="old.json: coefficients: .*refit"):
        cost_model.load_cost_model(tmp_path / "old.json")


def test_a_key_with_no_fitted_cost_is_an_error_not_a_constant():
    only_se = dict.fromkeys(FEATURES, 0.0) | {"se_elements": 1.0}
    model = cost_model.CostModel("phone", only_se)
    key = next(iter(synthetic_table(np.ones(len(FEATURES)))))  # the stem: no squeeze-excite
    with pytest.raises(ValueError, match="predicts 0.0 ms"):
        model.predict(key)


def test_pixel1_leave_one_out_error_is_under_five_percent(anchors):
    table = load_table(anchors / "latency" / PIXEL1)
    assert cost_model.leave_one_out([table]).median_ape < 0.05


@pytest.mark.parametrize("held_out", [160, 176, 192, 208])
def test_note10_predicts_each_resolution_from_the_others(anchors, held_out):
    paths = {r: anchors / "latency" / f"note10_ofa_{r}.yaml" for r in (160, 176, 192, 208)}
    train = [load_table(p) for r, p in paths.items() if r != held_out]
    model = cost_model.fit(train, with_loo=False)
    assert cost_model.evaluate(model, load_table(paths[held_out])).median_ape < 0.05


def test_shipped_mobile_model_is_the_fit_of_the_published_table(anchors):
    """data/mobile.json holds only coefficients and is reproducible from the anchors."""
    shipped = cost_model.load_cost_model(DATA_DIR / "mobile.json")
    path = anchors / "latency" / PIXEL1
    refit = cost_model.fit([load_table(path)], sources=[path])
    assert refit.report["sources"] == shipped.report["sources"]  # same file, same SHA-256
    np.testing.assert_allclose(
        list(refit.coefficients.values()), list(shipped.coefficients.values()), rtol=1e-6
    )
    assert refit.report["loo"] == pytest.approx(shipped.report["loo"])


def test_shipped_cpu_model_is_the_fit_of_the_shipped_cpu_table():
    path = DATA_DIR / "cpu_table.json"
    shipped = cost_model.load_cost_model(DATA_DIR / "cpu.json")
    refit = cost_model.fit([load_table(path)], with_loo=False)
    np.testing.assert_allclose(
        list(refit.coefficients.values()), list(shipped.coefficients.values()), rtol=1e-6
    )
    assert shipped.report["sources"][0]["file"] == "cpu_table.json"
