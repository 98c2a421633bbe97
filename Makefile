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

.PHONY: serve serve-prod serve-tls test bench bench-instructions
serve: $(BIN)/activate
	$(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$(PORT) 'cds_service:create_app()'

# Production: client JWTs required (configure CDS_TRUSTED_ISSUERS and/or CDS_TRUST_SANDBOX=true), with the
# public base URL the tokens' audience is checked against (the service also refuses to start without it).
# gunicorn.conf.py: worker timeout above the gathering deadline, --max-requests with jitter, gc.freeze().
serve-prod: $(BIN)/activate
	@test -n "$$CDS_PUBLIC_BASE_URL" || { echo "serve-prod: set CDS_PUBLIC_BASE_URL to the https:// URL clients" \
		"call (token audience); see README, Trust" >&2; exit 2; }
	CDS_AUTH_REQUIRED=true $(BIN)/gunicorn -c gunicorn.conf.py --bind $${CDS_BIND:-127.0.0.1:$(PORT)} \
		--access-logfile - 'cds_service:create_app()'

# nginx (Debian package nginx) with a self-signed certificate on https://127.0.0.1:8443, in front of gunicorn
# on $(PORT): the reverse-proxy configuration of deploy/nginx-cds.conf, run locally.
serve-tls: $(BIN)/activate
	$(BIN)/python deploy/local_proxy.py --upstream-port $(PORT)

test: $(BIN)/activate
	$(BIN)/ruff check cds_service tests fhir_fixtures benchmarks deploy
	$(BIN)/pytest

bench: $(BIN)/activate
	$(BIN)/python benchmarks/run.py

# Deterministic: instructions per request, (a) and (b), under valgrind (Debian package valgrind); about 15 minutes
# on the shared machine.
bench-instructions: $(BIN)/activate
	$(BIN)/python benchmarks/instructions.py --stages
