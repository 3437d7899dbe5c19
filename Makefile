# Two commands set everything up on a fresh machine:
#   make demo   install, create the SQLite database, triage the example inbox into the officers'
#               queue with the shipped model, and print one proposal in full
#   make test   install system packages (Chromium, CJK fonts), start PostgreSQL, run every test
VENV ?= .venv
PY := $(VENV)/bin/python
XF := $(VENV)/bin/xinfang
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: demo test install install-main system bench

# The main job (demo) needs the project and its file/OCR readers only: the shipped model uses TF-IDF
# features, so neither torch nor a sentence encoder is installed for it.
$(VENV)/.installed-main: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[ocr]"
	touch $@

# The tests exercise every optional path. torch goes first, alone and exact: 2.13.0 is the CPU build,
# and a torch resolved together with the rest could be a CUDA build of several GB. The
# sentence-transformers extra then finds it installed.
$(VENV)/.installed: $(VENV)/.installed-main
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[ocr,embeddings,sentence-transformers,dev]"
	touch $@

install-main: $(VENV)/.installed-main

install: $(VENV)/.installed

demo: install-main
	$(XF) db upgrade
	$(XF) triage data/examples/inbox
	$(XF) route --jsonl data/examples/letters.jsonl --out var/demo-proposals.jsonl
	$(XF) route --title "举报村支书截留扶贫补助" "村支书王某截留村民的扶贫资金，还收受工程老板的好处费，请纪委调查。"

system:
	bash scripts/system-deps.sh

test: system install
	DATABASE_URL=$(PG_URL) $(PY) -m pytest -q

# Every bench/*.py in turn, each writing its section of BENCHMARKS.md; exits non-zero if any failed.
# A smoke run that writes nothing: make bench BENCH_ARGS=--quick (see bench/run_all.py --help).
bench: install
	$(PY) bench/run_all.py $(BENCH_ARGS)
