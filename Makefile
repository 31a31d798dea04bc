# carelake: the two commands a new user needs are `make demo` and `make test`.
.PHONY: setup demo test test-fast bench-ingest bench-transform bench-pii clean-lake metastore-stop airflow

setup:
	@scripts/setup.sh

## Set up, then generate demo extracts for 4 hospitals, ingest them and the real samples, build silver and gold.
demo: setup
	.venv/bin/carelake demo
	.venv/bin/carelake tables gold
	.venv/bin/carelake metastore stop

## Set up, then run the whole test suite on real Spark + Delta.
test: setup
	.venv/bin/python -m pytest -m "not crash"

test-crash: setup
	.venv/bin/python -m pytest -m crash tests/e2e/test_crash_safety.py

test-fast: setup
	.venv/bin/python -m pytest tests/unit

bench-ingest: setup
	.venv/bin/python benchmarks/ingest.py

## Bronze -> silver -> MPI -> gold time per row at 10k and 100k patients-worth (add 1000000 with ARGS="--patients 10000 100000 1000000").
bench-transform: setup
	.venv/bin/python benchmarks/transform.py $(ARGS)

## PII detection: carelake's Spark path vs naive row-at-a-time Presidio (texts/s and the ratio; target >= 5x).
bench-pii: setup
	.venv/bin/python benchmarks/pii.py $(ARGS)

metastore-stop:
	-.venv/bin/carelake metastore stop

clean-lake: metastore-stop
	rm -rf lake landing

## Local Airflow UI on http://127.0.0.1:8080 (SQLite metadata in .airflow/, DAGs from ./dags); Ctrl-C stops it.
airflow: setup
	.venv/bin/carelake airflow standalone
