"""Print (last stdout line, JSON) every table of the lake (CARELAKE_* env) with its row count and content hash,
plus the ledger balance facts; run in its own process by tests/e2e/process_lake.py.

Arguments, if any, are ``carelake`` commands (one per argument, e.g. ``"ingest --date 2026-10-01"``) run first, in
this process, through the CLI's own code (``carelake.cli.app``): one Spark session for all of them and the snapshot
instead of one JVM per command - a clean reference run costs one process start. A command that exits non-zero
stops the script (exit 1, naming it).

Content hashes (``carelake.lake.content_hash``) ignore only the per-run columns named in :data:`PER_RUN_COLUMNS`:
what differs between two runs over the same data by construction (batch and run ids, wall-clock times).
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import sys
import time

STARTED = time.monotonic()

# table pattern -> columns whose values are per run (ids and wall-clock times), ignored in content hashes
PER_RUN_COLUMNS = {
    "*": ("_batch_id", "_ingested_at"),  # bronze lineage, carried into silver/gold by dbt
    "bronze.ingest_ledger": ("batch_id", "started_at", "finished_at"),
    "bronze.quarantine": ("batch_id", "quarantined_at"),
    "quality.results": ("run_id", "run_at"),
    "quality.scores": ("run_id", "run_at"),
    "quality.failed_rows": ("run_id", "run_at"),
    "quality.daily_metrics": ("computed_at",),
    "quality.anomalies": ("run_id", "detected_at"),
    "quality.alerts": ("run_id", "raised_at"),
}


def ignored(table: str) -> tuple[str, ...]:
    return tuple(c for pattern, cols in PER_RUN_COLUMNS.items() if fnmatch.fnmatch(table, pattern) for c in cols)


def run_commands(commands: list[str]) -> None:
    """Run each ``carelake`` command line in this process, as ``python -m carelake`` would; exit 1 on a failure."""
    from carelake.cli import app

    for command in commands:
        code = app(shlex.split(command), standalone_mode=False)
        if code:
            sys.exit(f"carelake {command}: exit {code}")


def main() -> None:
    from pyspark.sql import functions as F

    from carelake.lake import content_hash, list_tables
    from carelake.spark import get_spark

    run_commands(sys.argv[1:])
    spark = get_spark(app_name="lake-snapshot")
    tables = {name: content_hash(spark, name, ignored(name)) for name in list_tables(spark)}
    facts: dict = {}
    if "bronze.ingest_ledger" in tables:
        ledger = spark.table("bronze.ingest_ledger")
        facts["ledger_rows"] = ledger.count()
        facts["ledger_keys"] = ledger.select("source_id", "entity", "file_sha256", "file_path").distinct().count()
        facts["ledger_unbalanced"] = ledger.where("rows_read <> rows_bronze + rows_quarantined").count()
        facts["ledger_statuses"] = {r.status: r["count"] for r in ledger.groupBy("status").count().collect()}
        loaded = ledger.where("status <> 'duplicate'")
        expected = {(r.bronze_table, r.file_sha256): r.rows_bronze for r in loaded.collect()}
        found: dict = {}
        duplicates = 0
        for table in sorted({t for t, _ in expected}):
            if table not in tables:
                continue
            frame = spark.table(table)
            for r in frame.groupBy("_file_sha256").count().collect():
                found[(table, r._file_sha256)] = r["count"]
            duplicates += frame.groupBy("_file_sha256", "_row_number").count().where("count > 1").count()
        facts["bronze_rows_differing_from_ledger"] = sorted(
            f"{t} {sha[:12]}: ledger {n}, bronze {found.get((t, sha), 0)}" for (t, sha), n in expected.items()
            if found.get((t, sha), 0) != n)
        facts["bronze_files_not_in_ledger"] = sorted(f"{t} {sha[:12]}" for (t, sha) in found if (t, sha) not in expected)
        facts["bronze_duplicate_rows"] = duplicates
        quarantine = {(r.file_sha256): r["count"] for r in spark.table("bronze.quarantine").groupBy("file_sha256").count().collect()}
        by_sha: dict = {}
        for r in loaded.collect():
            by_sha[r.file_sha256] = by_sha.get(r.file_sha256, 0) + r.rows_quarantined
        facts["quarantine_differing_from_ledger"] = sorted(sha[:12] for sha in set(by_sha) | set(quarantine)
                                                            if by_sha.get(sha, 0) != quarantine.get(sha, 0))
        facts["quarantine_duplicate_rows"] = (spark.table("bronze.quarantine").groupBy("file_sha256", "row_number").count()
                                              .where(F.col("count") > 1).count())
    print(json.dumps({"tables": tables, "facts": facts, "seconds": round(time.monotonic() - STARTED, 1)}, sort_keys=True))


if __name__ == "__main__":
    main()
