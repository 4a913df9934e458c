# One command per habit. `make stack` runs everything; `make test` runs the tests.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: setup stack stack-dev test lint fmt typecheck check docs infra-up infra-down infra-reset infra-status infra-go-test

setup: ## install uv if missing, then exactly the locked dependencies
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv==0.13.8
	@$(UV) sync --frozen --quiet

stack: setup ## the whole stack with its logs (Docker Compose if an engine answers, else local)
	$(UV) run --frozen python -m infra stack

stack-dev: setup ## the stack with the development SMS gateway and mail sink (the `dev` profile)
	STATION_PROFILE=dev $(UV) run --frozen python -m infra stack

test: setup ## every test, against real Kafka and FerretDB (started if none is configured)
	$(UV) run --frozen pytest

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

fmt: setup
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

typecheck: setup
	$(UV) run --frozen mypy .

check: lint typecheck test

docs: setup ## regenerate the contract documents under docs/ from the models
	$(UV) run --frozen python -m infra docs

infra-up: setup
	scripts/infra up

infra-down: setup
	scripts/infra down

infra-reset: setup ## delete the data `make stack` keeps (STATION_DATA_DIR)
	scripts/infra reset

infra-status: setup
	scripts/infra status

infra-go-test: ## the FerretDB proxy's own tests (Go)
	cd infra/ferretdb && go test ./...
