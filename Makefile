# The whole test suite: installs what the tests need (Debian packages, npm packages, Go modules), checks
# formatting and vet, runs every module's tests with -race, then the integration and browser tests.
.PHONY: test run build

test:
	bash .ci/test

# Starts weft on the embedded store with the matchmaker demo's traffic; the UI is on http://127.0.0.1:16686
run:
	go run ./cmd/weft serve --demo

build:
	go build -o bin/weft ./cmd/weft
