# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install run test test-deps lint messages

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

# In parallel (pytest-xdist), one worker per core, at most 4; TEST_WORKERS=0: serially.
# Tests that need a system program skip when it is missing (fail when CI is set);
# the last line of the run lists them. `make test-deps` installs the programs.
TEST_WORKERS ?= auto
test: install
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --maxprocesses=4 --dist worksteal $(PYTEST_ARGS)

# The Debian packages of tests/programs.py (Dovecot, Chromium, ...): the full suite.
test-deps:
	@debs="$$($(PYTHON) tests/programs.py --debs)"; \
	sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	echo "apt-get install $$debs"; \
	$$sudo apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$debs >/dev/null

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

messages: install
	$(PY) manage.py makemessages -l pt_BR --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=static/vendor
	$(PY) manage.py compilemessages --ignore=.venv
