# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-%: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-demo
	$(PY) -m torchcompress demo

test: $(VENV)/.installed-test
	$(PY) -m pytest -q tests

# BENCH_ARGS="--data ../shared/data/cifar10_sample.npz" for real images
bench: $(VENV)/.installed-test $(VENV)/.installed-bench
	$(PY) benchmarks/bench_decode.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_gede.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_gede_breakdown.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .benchmarks
