"""Bronze ingestion vs a bare Spark CSV -> Delta copy of the same files, in the same run.

    .venv/bin/python benchmarks/ingest.py                 # ~1M CSV records (default)
    .venv/bin/python benchmarks/ingest.py --patients 5000 # quick

The generated CSV hospitals (UTF-8 English, GB18030 Chinese, the pipe-delimited HIS export)
are ingested by carelake (decode, parse, validate, quarantine, map, lineage, ledger) and,
separately, copied by `spark.read.csv(...).write.format("delta")` with the same encoding and
delimiter options (multiLine, as the files have quoted line breaks). Prints seconds, rows/s and
the ratio carelake / bare (target <= 1.5).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from scratch_lake import scratch_lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=72000, help="patients per hospital (72000 -> ~1M CSV records)")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="lake + landing folder (default: a temp folder)")
    args = parser.parse_args()

    with scratch_lake(args.workdir, "carelake-bench-", 1577) as (workdir, settings):
        from carelake.generate import generate
        from carelake.ingest import ingest
        from carelake.ingest.landed import discover
        from carelake.registry import load_registry
        from carelake.spark import get_spark

        registry = load_registry(settings)
        started = time.perf_counter()
        summary = generate(settings.landing_root, hospitals=4, patients=args.patients, days=args.days)
        print(f"generated {summary.total_records:,} records in {time.perf_counter() - started:.1f}s into {workdir}")
        csv_sources = [s for s in registry.sources if s.format == "csv" and s.kind != "reference_sample"]
        files = discover(registry, csv_sources)
        rows = sum(r for sid, _e, _f, r, _d in summary.files if sid in {s.id for s in csv_sources})
        size = sum(f.size for f in files)
        print(f"benchmark input: {len(files)} CSV files, {rows:,} records, {size / 1e6:.0f} MB")

        spark = get_spark(settings, app_name="carelake-bench")
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # let the bare baseline read GB18030
        spark.range(1000).write.format("delta").mode("overwrite").saveAsTable("bronze.bench_warmup")  # JIT/catalog warm-up

        groups: dict[str, list] = defaultdict(list)
        for f in files:
            groups[f.table].append(f)

        def bare_copy(round_no: int) -> float:
            start = time.perf_counter()
            for table, table_files in groups.items():
                options = table_files[0].source.csv
                (
                    spark.read.option("header", True).option("encoding", options.encoding).option("sep", options.delimiter)
                    .option("multiLine", True).csv([str(f.path) for f in table_files])
                    .write.format("delta").mode("overwrite").saveAsTable(f"bronze.bare{round_no}_{table}")
                )
            return time.perf_counter() - start

        bare_first = bare_copy(1)
        start = time.perf_counter()
        report = ingest(settings, registry, source_ids=[s.id for s in csv_sources], spark=spark)
        carelake_seconds = time.perf_counter() - start
        bare_second = bare_copy(2)
        bare = min(bare_first, bare_second)

        assert report.balanced and report.totals()["rows_read"] == rows, report.totals()
        print(f"bare Spark CSV->Delta : {bare:7.1f}s  ({rows / bare:,.0f} rows/s; runs {bare_first:.1f}s, {bare_second:.1f}s)")
        print(f"carelake ingest       : {carelake_seconds:7.1f}s  ({rows / carelake_seconds:,.0f} rows/s)")
        print("  phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items()))
        print(f"ratio carelake / bare : {carelake_seconds / bare:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
