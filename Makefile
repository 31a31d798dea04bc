# carelake: the two commands a new user needs are `make demo` and `make test`.
.PHONY: setup demo test test-fast bench-ingest clean-lake metastore-stop

setup:
	@scripts/setup.sh

## Set up, then generate demo extracts for 4 hospitals, ingest them and the real samples into bronze.
demo: setup
	.venv/bin/carelake demo
	.venv/bin/carelake tables bronze
	.venv/bin/carelake metastore stop

## Set up, then run the whole test suite on real Spark + Delta.
test: setup
	.venv/bin/python -m pytest

test-fast: setup
	.venv/bin/python -m pytest tests/unit

bench-ingest: setup
	.venv/bin/python benchmarks/ingest.py

metastore-stop:
	-.venv/bin/carelake metastore stop

clean-lake: metastore-stop
	rm -rf lake landing
