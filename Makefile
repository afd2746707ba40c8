# Two commands on a fresh machine with Python 3.11+ and make:
#   make shell   install, then try Shipbell in a local shell (no Slack needed)
#   make test    install, then run ruff, the layer contract, mypy and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install shell test lint bench clean

install: $(VENV)/.installed

# setuptools warns at every editable install of a package whose folders are mapped ("folders
# named like your package may take precedence"); no folder here is named shipbell, so it's muted.
$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Shipbell needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

shell: install
	$(BIN)/shipbell shell

# mypy finds modules by path, so it reads the source through links named as installed
# (shipbell/bot -> bot, ...); pyproject.toml points mypy_path here.
TYPECHECK := $(VENV)/typecheck/shipbell

$(TYPECHECK):
	mkdir -p $@
	for folder in bot handlers scheduled; do ln -sfn $(CURDIR)/$$folder $@/$$folder; done

lint: install $(TYPECHECK)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/ack_latency.py

clean:
	rm -rf $(VENV) *.egg-info shipbell-shell.db*
