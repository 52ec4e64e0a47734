PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test check lint docs format bench bench-quick db-backup db-restore db-drill clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	APP_ENV=$${APP_ENV:-development} $(PY) scripts/demo.py

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

check: $(STAMP)
	$(VENV)/bin/schemakit check
	$(VENV)/bin/schemakit check --backend sqlite

# The configured database (DATABASE_URL): a backup with its manifest, a restore into another database, a drill.
db-backup: $(STAMP)
	$(VENV)/bin/schemakit db backup

db-restore: $(STAMP)
	test -n "$(FILE)" -a -n "$(TO)" || { echo "usage: make db-restore FILE=backups/<archive>.dump TO=<database URL>"; exit 2; }
	$(VENV)/bin/schemakit db restore "$(FILE)" --to "$(TO)"

db-drill: $(STAMP)
	$(VENV)/bin/schemakit db drill

BENCHMARKS := bench_ids bench_keys bench_mixins bench_seed bench_migrations bench_testkit bench_check bench_online bench_drill bench_audit bench_docs bench_search bench_scale bench_partitions bench_routing costs

bench: $(STAMP)
	for name in $(BENCHMARKS); do $(PY) -m benchmarks.$$name || exit 1; done

bench-quick: $(STAMP)
	for name in $(BENCHMARKS); do $(PY) -m benchmarks.$$name --quick || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests scripts alembic benchmarks
	$(VENV)/bin/ruff format --check src tests scripts alembic benchmarks
	$(VENV)/bin/mypy --strict src

docs: $(STAMP)
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html docs docs/_build/html

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests scripts alembic benchmarks
	$(VENV)/bin/ruff format src tests scripts alembic benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache app.db docs/_build backups
