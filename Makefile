# aqueue: `make demo` runs the demo, `make test` the test suite; both set everything up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-valkey chaos lint bench bench-cluster bench-quick redis-server valkey-server faketime chromium clean

demo: $(STAMP) redis-server
	$(VENV)/bin/aqueue demo

test: $(STAMP) redis-server faketime chromium
	$(PY) -m pytest

# The fault tests at the bigger sizes some faults need to be convincing: tests/chaos
# (chaos_size() in tests/chaos/harness.py) and the failover scenarios of tests/scale, whose
# figures go to faults.jsonl. `make test` runs them small. CI does not run this.
CHAOS_JOBS ?= 20000
chaos: $(STAMP) redis-server faketime
	AQUEUE_CHAOS_FULL=1 $(PY) -m pytest tests/chaos
	rm -f benchmarks/results/raw/faults.jsonl
	AQUEUE_SCALE_JOBS=$(CHAOS_JOBS) AQUEUE_FAULT_REPORT=benchmarks/results/raw/faults.jsonl \
		$(PY) -m pytest tests/scale -s -o timeout=900 -p no:cacheprovider

# The whole suite against Valkey 8 (Debian bookworm-backports) instead of redis-server.
# Not run by CI.
test-valkey: $(STAMP) valkey-server faketime
	AQUEUE_TEST_REDIS_SERVER=valkey-server $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check aqueue tests benchmarks
	$(VENV)/bin/mypy

bench: $(STAMP) redis-server
	$(PY) -m benchmarks
	$(PY) -m benchmarks.cluster

# Only the cluster scenario (docs/scaling.md): a 3-primary cluster, 3 queues vs 1.
bench-cluster: $(STAMP) redis-server
	$(PY) -m benchmarks.cluster

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

# valkey-server from bookworm-backports, for that package only (apt pins nothing else there).
# The tests start their own valkey-server processes; on a machine with systemd, Debian's
# package also enables a valkey-server service on port 6379 (stop it if that port is taken).
valkey-server:
	@command -v valkey-server >/dev/null || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "valkey-server not found: installing it from bookworm-backports"; \
			printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
				> /etc/apt/sources.list.d/aqueue-bookworm-backports.sources; \
			apt-get update -qq && \
			apt-get install -y -qq --no-install-recommends valkey-server/bookworm-backports \
				valkey-tools/bookworm-backports; \
		else \
			echo "valkey-server not found: install Valkey 8 (Debian 12: apt-get install -t bookworm-backports valkey-server)"; \
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
