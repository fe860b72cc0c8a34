# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,ray]'
	@touch $(STAMP)

# The main job on one shipped spec, offline: validate -> cost -> check the budget -> train it
# on the shipped procedural scenes (rendered from a seed: segmentation, depth, normals, edges;
# two short epochs) -> build the ONNX file with the trained weights and verify it with
# onnxruntime. About two minutes on 2 CPU cores; out/ is git-ignored.
DEMO_SPEC := specs/scenes_resnet.mtl
DEMO_NAME := $(basename $(notdir $(DEMO_SPEC)))

demo: $(STAMP)
	$(BIN)/mtlspec validate specs/*.mtl
	$(BIN)/mtlspec fmt --check specs/*.mtl
	$(BIN)/mtlspec validate --summary specs/*.mtl
	$(BIN)/mtlspec cost $(DEMO_SPEC)
	$(BIN)/mtlspec check specs/*.mtl
	$(BIN)/mtlspec train $(DEMO_SPEC) --data scenes --epochs 2 --batch-size 32 \
	    --train-size 256 --data-option val_size=64 --data-option test_size=64 \
	    -o out/$(DEMO_NAME).pt
	$(BIN)/mtlspec build $(DEMO_SPEC) --weights out/$(DEMO_NAME).pt -o out/$(DEMO_NAME).onnx

test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/detector.py
	$(BIN)/python bench/grouping.py
	$(BIN)/python bench/compile.py
	$(BIN)/python bench/layouts.py
	$(BIN)/python bench/mgda.py
	$(BIN)/python bench/conal.py
	$(BIN)/python bench/dag_search.py
	$(BIN)/python bench/run_e2e.py
	$(BIN)/python bench/check_cache.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
