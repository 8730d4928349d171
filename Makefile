# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint messages

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (PYTHON=$(PYTHON))")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	@echo "Helpdesk on http://127.0.0.1:8000/  (admin: /admin/, SMTP on 127.0.0.1:2525). Ctrl-C stops everything."
	$(VENV)/bin/honcho start -f Procfile

test: install
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

messages: install
	$(PY) manage.py makemessages -l pt_BR --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=static/vendor
	$(PY) manage.py compilemessages --ignore=.venv
