# Two entry points: `make demo` and `make test`. Both create .venv from nothing when needed,
# with the dev install pinned by constraints.txt (torch's CPU build, tensorflow-cpu).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench golden clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip -c constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# tests only: torchvision's wheel would pull a CUDA build of torch without --no-deps
	$(BIN)/pip install --quiet --no-deps -c constraints.txt torchvision
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m specc.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

golden: $(STAMP)
	$(BIN)/python -m tests.regenerate_golden
	PYTHONPATH=. $(BIN)/python editors/vscode/build_grammar.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
