# Two commands do all set-up: `make demo` and `make test` create .venv with the
# pinned stack first if it is missing (constraints.txt is used on every install).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tfdpfair-installed

.PHONY: install demo test clean

install: $(STAMP)

$(STAMP): setup.py constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

demo: install
	$(PY) reproductions/dp_dcgan.py --preset quick

test: install
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
