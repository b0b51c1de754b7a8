"""`benchmarks.search_fidelity`: its variants are valid searches; its figures and report."""

import statistics

import pytest

from benchmarks import search_fidelity as sf
from tfnas.config.flags import parse_params_override
from tfnas.search.config import SearchConfig, resolve


def _run(variant, seed, latency, acc):
    return {
        "variant": variant,
        "seed": seed,
        "ops": ["3x3_MBConv3", "zero"],
        "unit": "ms",
        "latency": latency,
        "expected_latency": latency + 0.05,
        "valid_accuracy": acc,
        "test_accuracy": acc - 0.01,
        "minutes": 2.0,
    }


def test_every_variant_is_a_valid_demo_search_that_differs_from_the_defaults():
    defaults = resolve("demo")
    for name, flags in sf.VARIANTS.items():
        text = ",".join(flag.removeprefix("--") for flag in flags)
        overrides = parse_params_override(text, SearchConfig) if text else {}
        config = resolve("demo", **overrides)
        assert (config == defaults) == (name == "reference"), name


def test_aggregate_gives_mean_and_sample_spread_and_the_error_against_the_target():
    runs = [_run("reference", s, lat, 0.9) for s, lat in enumerate((0.5, 0.6, 0.55))]
    summary = sf.aggregate(runs, target=0.55)
    assert summary["seeds"] == 3
    assert summary["latency"]["mean"] == pytest.approx(0.55)
    assert summary["latency"]["std"] == pytest.approx(statistics.stdev([0.5, 0.6, 0.55]))
    assert summary["error"]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert sf.aggregate(runs[:1], target=0.5)["latency"]["std"] == 0.0


def test_the_report_has_a_row_per_variant_and_per_run():
    runs = [_run("reference", 0, 0.5, 0.9), _run("reinforce", 0, 0.6, 0.8)]
    results = {
        "target": "mobile",
        "target_latency": 0.55,
        "unit": "ms",
        "seeds": [0],
        "machine": "x86_64, 2 cores",
        "variants": {r["variant"]: sf.aggregate([r], 0.55) for r in runs},
        "runs": runs,
    }
    text = sf.markdown(results)
    assert "| reference | (defaults) | 0.500 ± 0.000 ms | -9.1% ± 0.0% |" in text
    assert "| reinforce | `--mode=reinforce` | 0.600 ± 0.000 ms | +9.1% ± 0.0% |" in text
    assert "| reinforce | 0 | 0.600 ms | 0.790 | 3x3_MBConv3 zero |" in text
