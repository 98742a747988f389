# ritm_lite — the course's two commands (see README.md):
#   make course   set everything up (first time only) and open the course in JupyterLab
#   make test     set everything up (first time only) and run all tests
#
# Set-up is a virtual environment in .venv with the package in editable mode, its course and
# test extras, and the known-good torch pair from constraints.txt.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ritm-lite-installed

.PHONY: setup course test sync-notebooks notebooks clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt -e ".[course,test]"
	touch $@

course: setup
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/00_overview.ipynb

test: setup
	$(BIN)/python -m pytest

# After editing a notebook's .py file (or its .ipynb in JupyterLab), bring the pair in sync,
# with the kernel metadata JupyterLab would add on opening (so a notebook opens unmodified).
sync-notebooks: setup
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py
	$(BIN)/python notebooks/kernel_metadata.py
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py

# Run every notebook at its default size and store its outputs (figures, tables) in the .ipynb,
# which is what GitHub shows (notebooks/execute.py; about half an hour on a 2-core CPU).
notebooks: setup
	$(BIN)/python notebooks/execute.py

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
