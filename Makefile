# aqueue: `make demo` runs the demo, `make test` the test suite; both set everything up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test chaos lint bench bench-quick redis-server faketime chromium clean

demo: $(STAMP) redis-server
	$(VENV)/bin/aqueue demo

test: $(STAMP) redis-server faketime chromium
	$(PY) -m pytest

# The fault tests (tests/chaos/) with the bigger sizes some faults need to be convincing
# (chaos_size() in tests/chaos/harness.py); `make test` runs them small. CI does not run this.
chaos: $(STAMP) redis-server faketime
	AQUEUE_CHAOS_FULL=1 $(PY) -m pytest tests/chaos

lint: $(STAMP)
	$(VENV)/bin/ruff check aqueue tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) redis-server
	$(PY) -m benchmarks

# A smoke run: small sizes, one run; it leaves the full results and docs/benchmarks.md alone.
bench-quick: $(STAMP) redis-server
	$(PY) -m benchmarks --quick --no-docs --output benchmarks/results/raw/quick.json

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "aqueue needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing python3-venv with apt-get"; \
			apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); \
		else \
			echo "cannot create a virtualenv: install python3-venv (sudo apt-get install python3-venv)"; \
			exit 1; \
		fi; }
	$(PY) -m pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e '.[dev]'
	@touch $(STAMP)

# The tests start their own redis-server processes; the demo starts one if no Redis answers.
redis-server:
	@command -v redis-server >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "redis-server not found: installing it with apt-get"; \
			apt-get update -qq && apt-get install -y -qq redis-server; \
		else \
			echo "redis-server not found: install Redis 7 (Debian/Ubuntu: sudo apt-get install redis-server)"; \
			exit 1; \
		fi; }

# The clock-skew tests shift one worker's clock with libfaketime (Debian's faketime package).
faketime:
	@command -v faketime >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "faketime not found: installing it with apt-get"; \
			apt-get update -qq && apt-get install -y -qq faketime; \
		else \
			echo "faketime not found: install it (Debian/Ubuntu: sudo apt-get install faketime)"; \
			exit 1; \
		fi; }

# The dashboard's browser tests drive Debian's Chromium through Playwright (the driver
# only: Playwright's own browser download does not work everywhere).
chromium:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "chromium not found: installing it with apt-get"; \
			apt-get update -qq && apt-get install -y -qq chromium; \
		else \
			echo "/usr/bin/chromium not found: the dashboard's browser tests need it (Debian/Ubuntu: sudo apt-get install chromium)"; \
			exit 1; \
		fi; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
