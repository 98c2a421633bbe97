# One command each: `make serve` (set up + run on 127.0.0.1:8080), `make test` (set up + run the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/activate

.PHONY: serve serve-prod test bench bench-instructions
serve: $(BIN)/activate
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --no-control-socket 'cds_service:create_app()'

# Production: client JWTs required (configure CDS_TRUSTED_ISSUERS and/or CDS_TRUST_SANDBOX=true).
serve-prod: $(BIN)/activate
	CDS_AUTH_REQUIRED=true $(BIN)/gunicorn --bind $${CDS_BIND:-127.0.0.1:$(PORT)} --workers $${CDS_WORKERS:-2} \
		--no-control-socket --access-logfile - 'cds_service:create_app()'

test: $(BIN)/activate
	$(BIN)/ruff check cds_service tests fhir_fixtures benchmarks
	$(BIN)/pytest

bench: $(BIN)/activate
	$(BIN)/python benchmarks/run.py

# Deterministic: instructions per request under valgrind (Debian package valgrind); about 3 minutes.
bench-instructions: $(BIN)/activate
	$(BIN)/python benchmarks/instructions.py --stages
