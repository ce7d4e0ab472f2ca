# Formulary. `make run` and `make test` do everything on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export FLASK_APP := wsgi

.PHONY: run test install install-test migrate demo serve worker bench bench-load clean messages

# The catalogs (SPEC §13): translations/<lang>/LC_MESSAGES/messages.po is the source;
# its .mo is compiled here whenever the .po is newer (never committed).
PO_FILES := $(wildcard translations/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)
# Besides _ and _l: the English texts of refusals, flashes and menu entries, translated at
# the edge that shows them (formulary/i18n.py, tr); msg: the templates of the domain's
# sentences with values in them (formulary/domain/messages.py).
EXTRACT_KEYWORDS := -k _l -k _lp:1c,2 -k tr -k flash -k NavItem -k ValidationError -k NotFound -k Forbidden \
	-k Conflict -k Duplicate -k InvalidState -k InsufficientStock -k SafetyBlock -k MalformedRequest \
	-k Column -k Sheet -k ChartSpec -k IdempotencyMismatch -k BatchRefused -k Unauthorized -k LoginRefused -k TooManyAttempts \
	-k ConsentMissing -k ConsentWithdrawn -k SessionMaximumExceeded -k DeliveryFileError -k refuse \
	-k JobKind -k ExportSpec -k msg

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt requirements.txt $(VENV)/.installed
	$(PIP) install -q -r requirements-test.txt
	touch $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile -i $< -o $@

install: $(VENV)/.installed $(MO_FILES)
install-test: $(VENV)/.installed-test $(MO_FILES)

# Re-read the strings of the code and templates into messages.pot and each catalog
# (new ones empty, changed ones fuzzy: the catalog test fails until they are translated).
messages: install
	PYTHONPATH=. $(VENV)/bin/pybabel extract -F babel.cfg $(EXTRACT_KEYWORDS) --no-location --sort-output -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations

migrate: install
	$(PY) -m flask --app wsgi db upgrade

demo: migrate
	$(PY) -m flask --app wsgi demo-data --if-empty

serve:
	$(PY) -m flask --app wsgi run --host 127.0.0.1 --port 5000

# The background worker on its own (exports, imports, backups, the digest; SPEC §14).
worker: migrate
	$(PY) -m flask --app wsgi worker

# The server and the worker beside it. Ctrl-C reaches the server; the trap then stops the
# worker (a background job of a non-interactive shell ignores Ctrl-C itself), and on any
# exit of the server too.
run: demo
	@$(PY) -m flask --app wsgi worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) -m flask --app wsgi run --host 127.0.0.1 --port 5000

# The suite runs in two worker processes, one a core (pytest-xdist; each has its own
# PostgreSQL database, SQLite files, browser and servers: tests/conftest.py), the tests of
# one file in the same worker (--dist loadfile: a file's module fixtures, such as a crawl's
# server, are made once). PYTEST_WORKERS=0 runs them in this process, e.g.
# make test PYTEST_WORKERS=0 PYTEST_ARGS="tests/audit -x".
PYTEST_WORKERS ?= 2
test: install-test
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# make bench NAME=export (no NAME: the list)
bench: install-test
	$(PY) -m bench $(NAME)

# The load test (a clinic day against gunicorn + PostgreSQL, bench/README.md):
# make bench-load LOAD_ARGS="--users 50 --minutes 2"
bench-load: install-test
	$(PIP) install -q -r requirements-bench.txt
	$(PY) -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) instance/*.db
