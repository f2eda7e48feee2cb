# genbench: `make setup`, then `make benchmark` (the quick suite on MNIST) or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch/torchvision as wheels for this platform; override for another CUDA/CPU build.
TORCH ?= torch==2.14.1 torchvision==0.29.1
SUITE ?= quick
DATASET ?= mnist
OUT ?= reports/$(SUITE)-$(DATASET)
ARGS ?=

.PHONY: setup browser poppler fashion-mnist test test-fast lint benchmark report perf clean

setup: $(BIN)/genbench browser poppler fashion-mnist

# The system Chromium that the report's browser test drives (Playwright, in the dev extra,
# uses it instead of downloading a browser). Installed with apt where apt exists and we are
# root; elsewhere a note says what to install.
browser:
	@[ -x /usr/bin/chromium ] || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& apt-get update -qq && apt-get install -y -qq chromium; } \
		|| echo "setup: no /usr/bin/chromium; install Debian's chromium package for the" \
		        "report's browser test (it is skipped without it)"

# pdftotext (poppler-utils), with which the slides' layout test reads where every word lies
# on its page (it is skipped without it). Installed like Chromium.
poppler:
	@command -v pdftotext >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq poppler-utils; } \
		|| echo "setup: no pdftotext; install Debian's poppler-utils package for the slides'" \
		        "layout test (it is skipped without it)"

# Debian's complete Fashion-MNIST (/usr/share/datasets/fashion-mnist), the second real dataset:
# the tests and `make benchmark DATASET=fashion-mnist` read it. Elsewhere genbench downloads it.
fashion-mnist:
	@[ -d /usr/share/datasets/fashion-mnist ] || { command -v apt-get >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; } \
		|| echo "setup: no /usr/share/datasets/fashion-mnist; install Debian's" \
		        "dataset-fashion-mnist package, or let genbench download Fashion-MNIST"

$(BIN)/genbench: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,ray,perf]'
	# FWD's reference code, without its pins (scipy==1.11.1): its own needs are in pyproject
	$(BIN)/pip install --quiet --no-deps pytorchfwd==1.0.1
	@touch $@

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check genbench tests perf

benchmark: setup
	$(BIN)/genbench benchmark --suite $(SUITE) --datasets $(DATASET) --out $(OUT) $(ARGS)

report: setup
	$(BIN)/genbench report $(OUT)

# ARGS="--only diffusion_peer" / "--skip suite pythae": some measurements (python -m perf.run --help)
perf: setup
	$(BIN)/python -m perf.run --out reports/perf $(ARGS)

clean:
	rm -rf reports runs .pytest_cache
