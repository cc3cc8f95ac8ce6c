# Flotilla: `make run` starts the platform, `make test` checks it.
# Both install what they need first (a virtualenv in .venv, Debian packages via apt-get).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# BEGIN generated: services (services.toml; make generate)
SERVICES := users catalog orders
# END generated
COMPONENTS := shared $(addprefix services/,$(SERVICES)) gateway
STAMP  := $(VENV)/.installed

.PHONY: help run test lint unit bench deps install lock clean

help:
	@echo "make run          install, migrate, seed and start every component (SQLite under var/); Ctrl-C stops"
	@echo "make test         make lint, then every component's tests (SQLite and a throwaway PostgreSQL)"
	@echo "make unit         every component's tests without the lint step"
	@echo "make lint         ruff + mypy"
	@echo "make install      the virtualenv in .venv with pinned versions (run and test do it first)"
	@echo "make deps         the Debian packages the tests need (apt-get when root, else the line to run)"
	@echo "make bench        benchmarks in bench/ (figures to bench/results/ and docs/performance.md)"
	@echo "make bench-quick  CPU per request of each tier against the floor (under 3 minutes)"
	@echo "make chaos        fault scenarios on the real platform; prints one table of figures"
	@echo "make images       podman: build every image (FROM a debootstrap base), run them and docker-compose.yml"
	@echo "make generate     rewrite the files made from services.toml (Procfile, routes, deploy/...)"
	@echo "make new-service NAME=payments   a new service (WORKER=no: an api only), its entry in services.toml"
	@echo "make contracts    regenerate the event JSON Schemas in shared/contracts/events/"
	@echo "make lock         re-pin requirements/constraints.txt from a fresh resolve"
	@echo "make baseline     rewrite the compatibility baselines in deploy/compat/baseline/ (at a release)"
	@echo "make clean        delete .venv, var/ and the tool caches"

install: $(STAMP)

$(STAMP): requirements/constraints.txt requirements/dev.txt $(foreach c,$(COMPONENTS),$(c)/pyproject.toml)
	scripts/install.sh $(VENV) $(COMPONENTS)
	@touch $@

deps:
	scripts/system-deps.sh test

run: install
	scripts/system-deps.sh run
	scripts/run.sh

# mypy runs twice: the gateway's package sits in a folder of the same name (decision 0047).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy shared/flotilla $(foreach s,$(SERVICES),services/$(s)/$(s))
	cd gateway && ../$(BIN)/mypy --config-file ../pyproject.toml gateway

test: lint
	scripts/system-deps.sh test
	$(BIN)/pytest $(PYTEST_ARGS)

# The rules alone, on fakes (no database server, broker or HTTP server): under 30 s.
unit: install
	$(BIN)/pytest -q $(PYTEST_ARGS) $(wildcard services/*/tests/unit gateway/tests/unit shared/tests/unit)

# Every module of bench/ (about 13 minutes on a quiet 2-core machine): starts all it measures on free ports; figures to
# bench/results/<stamp>.json and the goals table of docs/performance.md. `python -m bench NAME` runs one.
bench: install
	scripts/system-deps.sh test
	$(BIN)/python -m bench

# Under 3 minutes: CPU per request of every tier against the floor, 3 s per path.
.PHONY: bench-quick
bench-quick: install
	scripts/system-deps.sh test
	BENCH_SECONDS=3 $(BIN)/python -m bench tiers

lock:
	scripts/lock.sh $(COMPONENTS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# Every file that repeats services.toml (decision 0075); shared/tests/test_platform.py fails when stale.
.PHONY: generate
generate: install
	$(BIN)/python -m flotilla.platform generate

# A new service's entry in services.toml (next free ports, route /NAME), then make generate.
.PHONY: new-service
new-service: install
	@test -n "$(NAME)" || { echo "usage: make new-service NAME=payments" >&2; exit 2; }
	$(BIN)/python -m flotilla.platform add $(NAME) $(if $(filter no,$(WORKER)),--no-worker)

.PHONY: contracts
contracts: install
	$(BIN)/python -m flotilla.events.contracts

# Rewrite the compatibility baselines (deploy/compat/baseline/) from the code: at a release,
# or with a version bump for a deliberate breaking change (deploy/tests/compat.py).
.PHONY: baseline
baseline: install
	$(BIN)/python deploy/tests/compat.py baseline

# Slow (minutes) and needs podman, so not part of `make test`; see scripts/image-smoke.sh.
.PHONY: images
images: install
	scripts/system-deps.sh test
	scripts/image-smoke.sh

# Fault scenarios (minutes): every test marked chaos, plus the fast subset make test runs too.
.PHONY: chaos
chaos: install
	scripts/system-deps.sh test
	FLOTILLA_CHAOS=1 $(BIN)/pytest services/orders/tests/chaos $(PYTEST_ARGS)
	FLOTILLA_CHAOS=1 $(BIN)/pytest gateway/tests/e2e/test_contract.py $(PYTEST_ARGS)
	FLOTILLA_CHAOS=1 $(BIN)/pytest deploy/tests/test_rolling_upgrade.py $(PYTEST_ARGS)
