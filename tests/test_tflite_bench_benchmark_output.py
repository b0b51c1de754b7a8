"""Parsing `benchmark_model` output of several versions (outputs written in each version's form)."""
# ruff: noqa: E501  (the tool's lines are long; they are kept whole, as the tool prints them)

import pytest

from tflite_bench.benchmark_output import BenchmarkOutputError, parse_benchmark_output

# v2.1-era build: no prefix, no percentiles, large values in %g form.
OLDER = """STARTING!
Num runs: [50]
Graph: [/data/local/tmp/tfnas_bench/model.tflite]
Loaded model /data/local/tmp/tfnas_bench/model.tflite
Initialized session in 31.842ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=12 first=48211 curr=41533 min=40987 max=48211 avg=42211.7 std=1904

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=41231 curr=41002 min=40671 max=43890 avg=41377.3 std=611

Inference timings in us: Init: 31842, First inference: 48211, Warmup (avg): 42211.7, Inference (avg): 41377.3
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=3.71 overall=19.2
"""

# 2.1x builds: INFO prefix, percentiles on both lines, %g for values >= 1e6.
NEWER = """INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Num threads: [1]
INFO: Graph: [/data/local/tmp/tfnas_bench/model.tflite]
INFO: Loaded model /data/local/tmp/tfnas_bench/model.tflite
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
INFO: The input model file size (MB): 13.9
INFO: Initialized session in 88.21ms.
INFO: Running benchmark for at least 10 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=10 first=1402311 curr=1297755 p5=1290012 median=1299108 p95=1402311

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=1298311 curr=1290001 min=1284560 max=1320001 avg=1.29412e+06 std=6810 p5=1286011 median=1292200 p95=1309876

INFO: Inference timings in us: Init: 88210, First inference: 1402311, Warmup (avg): 1.30968e+06, Inference (avg): 1.29412e+06
INFO: Memory footprint delta from the start of the tool (MB): init=21.5 overall=64.9
"""

# The same lines as logcat shows them.
LOGCAT = """I tflite  : count=50 first=9121 curr=8805 min=8700 max=9300 avg=8890.5 std=120 p5=8712 median=8870 p95=9101
I tflite  : Inference timings in us: Init: 5121, First inference: 10012, Warmup (avg): 9500, Inference (avg): 8890.5
"""

# 2018 builds of the TF Lite tool.
LEGACY = """count=50 first=9600 curr=9420 min=9300 max=9900 avg=9480.2 std=110
Average inference timings in us: Warmup: 10120, Init: 4211, no stats: 9480.2
"""


def test_an_older_build_gives_mean_std_and_count_without_a_median():
    result = parse_benchmark_output(OLDER)
    assert result.mean_ms == pytest.approx(41.3773)
    assert result.std_ms == pytest.approx(0.611)
    assert result.count == 50  # the timed run's line, not the warmup's count=12
    assert result.median_ms is None
    assert (result.min_ms, result.max_ms) == (pytest.approx(40.671), pytest.approx(43.890))
    assert result.init_ms == pytest.approx(31.842)
    assert result.warmup_ms == pytest.approx(42.2117)


def test_a_newer_build_adds_percentiles_and_prints_large_values_in_exponent_form():
    result = parse_benchmark_output(NEWER)
    assert result.mean_ms == pytest.approx(1294.12)
    assert result.median_ms == pytest.approx(1292.2)
    assert result.count == 50 and result.std_ms == pytest.approx(6.81)
    assert result.first_ms == pytest.approx(1402.311)


def test_logcat_prefixes_are_tolerated():
    result = parse_benchmark_output(LOGCAT)
    assert result.mean_ms == pytest.approx(8.8905) and result.median_ms == pytest.approx(8.87)


def test_the_2018_summary_line_is_read():
    result = parse_benchmark_output(LEGACY)
    assert result.mean_ms == pytest.approx(9.4802)
    assert result.init_ms == pytest.approx(4.211) and result.warmup_ms == pytest.approx(10.12)
    assert result.count == 50


def test_output_without_a_timing_is_an_error():
    crashed = "STARTING!\nLoaded model /data/local/tmp/m.tflite\nSegmentation fault\n"
    with pytest.raises(BenchmarkOutputError, match="no 'Inference timings in us' line"):
        parse_benchmark_output(crashed)
