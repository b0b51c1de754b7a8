# The two commands of the README: `make demo` and `make test`.
# Both create .venv when it is missing and install requirements.txt into it; the
# install is skipped (a stamp file newer than requirements.txt) on later runs.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
# The commands drop TensorFlow's C++ start-up lines themselves (tfnas/quiet.py).

.PHONY: demo compare test test-slow test-busy lint format clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip check
	touch $(STAMP)

# The main job end to end on the embedded demo data: a search for the Pixel 1
# latency model, the searched network trained from scratch, exported as a
# SavedModel and TFLite files (float, int8, int8 after quantization-aware
# training), and the TFLite models timed on this machine. Each `make demo`
# starts over in runs/demo/.
DEMO_DIR := runs/demo
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(PY) -m tfnas.nets table --build
	$(PY) -m tfnas.search --experiment=demo --target=mobile --output_dir=$(DEMO_DIR)/search
	$(PY) -m tfnas.train --experiment=demo --arch=$(DEMO_DIR)/search/arch.json \
		--output_dir=$(DEMO_DIR)/train
	$(PY) -m deploy.export --model_dir=$(DEMO_DIR)/train --output_dir=$(DEMO_DIR)/export
	$(PY) -m tflite_bench.measure $(DEMO_DIR)/export/model_float32.tflite --device=host
	$(PY) -m tflite_bench.measure $(DEMO_DIR)/export/model_int8.tflite --device=host

# ProxylessNAS against keras-tuner's RandomSearch, BayesianOptimization and
# Hyperband at an equal budget of training images, on the demo data; the table
# and the Pareto plot the README quotes go to benchmarks/results/compare_demo/.
compare: $(STAMP)
	rm -rf runs/compare-demo
	$(PY) -m tfnas.compare --experiment=demo --target=mobile --target_latency=0.55 \
		--retrain_seeds=2 --output_dir=runs/compare-demo \
		--report_dir=benchmarks/results/compare_demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest

# The slow tests, and those that time real runs on this machine's clock (quiet machine).
test-slow: $(STAMP)
	$(PY) -m pytest -m "slow or timing"

# The suite (or TESTS=...) while a spinning process keeps each core busy: no test
# may depend on this machine's speed or load. The spinners are stopped by PID at the end.
TESTS ?=
test-busy: lint
	$(PY) tests/busy_machine.py -- $(PY) -m pytest $(TESTS)

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
