"""`benchmarks.efficiency`: where the weight step's memory goes, and the table that says it."""

from benchmarks import efficiency as ef

MIB = 2**20


def _case(case: str, peak_mb: float, held_mb: float, **parameters: int) -> dict:
    return {
        "case": case,
        "step_s": 1.0,
        "first_step_s": 10.0,
        "memory_device": "CPU:0",
        "memory_mb": peak_mb,
        "held_mb": held_mb,
        "parameters": parameters,
        "rss_step_peak_mb": 2 * peak_mb,
    }


def _results() -> dict[str, dict]:
    off_path = 10 * MIB // 4  # 10 MiB of float32 weights off the path
    supernet = {"trainable": 4 * off_path, "off_path": off_path}
    return {
        "derived": _case("derived", 500.0, 40.0, trainable=off_path),
        "weight_step_static": _case("weight_step_static", 521.0, 61.0, **supernet),
        "weight_step": _case("weight_step", 600.0, 110.0, **supernet),
        "arch_two": _case("arch_two", 450.0, 61.0, **supernet),
    }


def test_the_extra_memory_splits_into_holding_the_candidates_and_running_the_switch():
    results = _results()
    split = ef.weight_step_memory(
        results["derived"], results["weight_step_static"], results["weight_step"]
    )
    assert split["candidates_expected"] == 20.0  # weights and momentum, float32
    assert split["off_path_gradients"] == 10.0
    assert split["candidates_measured"] == 21.0
    assert split["switch"] == 79.0
    assert split["switch_held"] == 49.0
    assert split["switch_held"] + split["switch_in_step"] == split["switch"]
    weight_step = results["weight_step"]["memory_mb"] - results["derived"]["memory_mb"]
    assert split["candidates_measured"] + split["switch"] == weight_step


def test_the_table_has_a_row_per_case_and_says_where_the_memory_goes():
    summary = ef.summarize(
        _results(),
        {"width": 1.0, "resolution": 64, "batch_size": 8, "steps": 2},
        {"cpu": "test CPU", "cores": 2, "gpu": [], "tensorflow": "x"},
    )
    assert summary["weight_step_static"]["memory_ratio"] == 521.0 / 500.0
    text = ef.markdown(summary)
    assert "| supernet, path fixed when traced | 1.00 | 521 | 1.00 | 1.04 | 61 | 10 |" in text
    assert "| supernet weight step | 1.00 | 600 | 1.00 | 1.20 | 110 | 10 |" in text
    assert "The weight step's memory beyond the single path's (100 MiB)" in text
    assert "of which 49 is held between steps" in text


def test_without_allocator_statistics_the_table_uses_the_resident_set_and_says_so():
    results = _results()
    for case in results.values():
        case["memory_mb"] = case["held_mb"] = None
    summary = ef.summarize(
        results,
        {"width": 1.0, "resolution": 64, "batch_size": 8, "steps": 2},
        {"cpu": "c", "cores": 2, "gpu": [], "tensorflow": "x"},
    )
    text = ef.markdown(summary)
    assert "weight_step_memory" not in summary
    assert "| supernet weight step | 1.00 | 1200 | 1.00 | 1.20 | n/a | 10 |" in text
    assert "highest resident set" in text
