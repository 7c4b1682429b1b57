# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch goes in first, so that the project's `torch>=2.2` finds it installed. The default is
# the 2.13.0 release, whose CPU-only build the dev machines carry: the venv is 1.4 GB instead
# of 5.9 GB with the CUDA build that plain `torch` resolves to on Linux. Any torch>=2.2 works:
# `make test TORCH=torch` takes pip's default.
TORCH  ?= torch==2.13.0

$(VENV)/.torch: | $(PY)
	$(PY) -m pip install -q "$(TORCH)"
	touch $@

$(VENV)/.installed-%: pyproject.toml $(VENV)/.torch
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
