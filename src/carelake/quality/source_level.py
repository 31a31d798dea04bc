"""Level "source": the ingest-time structural checks (ledger and quarantine) as quality results.

Per source and extract date:

* ``source.quarantined.<dimension>``: records read vs records quarantined, each quarantine reason mapped to a
  dimension (thresholds.yml ``source_level.quarantine_reasons``);
* ``source.files_readable``: files vs failed (unreadable) files;
* ``source.daily_file_present``: a daily source delivered at least one file that day (between the first and the
  last extract date of any daily source) - missing days count as failures;
* ``source.fresh`` (timeliness, at the lake's newest extract date): the source's newest extract is no older than
  its schedule allows (thresholds.yml ``timeliness.freshness_tolerance_days``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def source_results(spark, registry, thresholds) -> list[dict]:
    """Result rows (without run columns) of the source level; element/unexpected counts per source and day."""
    from carelake.ingest import LEDGER_TABLE, QUARANTINE_TABLE

    ledger = spark.table(LEDGER_TABLE).select("source_id", "file_path", "extract_date", "status", "rows_read").collect()
    quarantined = (spark.table(QUARANTINE_TABLE).groupBy("source_id", "file_path", "reason").count().collect())
    file_date = {(r.source_id, r.file_path): _date(r.extract_date) for r in ledger}
    schedules = {s.id: s.schedule for s in registry.sources}
    rows: list[dict] = []

    def add(rule: str, dimension: str, source_id: str, day, element: int, unexpected: int, table: str, observed: str):
        rows.append(dict(suite="source_level", table_name=table, source_id=source_id, data_date=day, dimension=dimension,
                         rule_id=rule, expectation_type="ingest_structural_check", column_name=None,
                         element_count=int(element), unexpected_count=int(unexpected), observed_value=observed))

    read, files, failed = defaultdict(int), defaultdict(int), defaultdict(int)
    for r in ledger:
        key = (r.source_id, _date(r.extract_date))
        if r.status != "duplicate":
            files[key] += 1
            read[key] += r.rows_read or 0
            failed[key] += r.status == "failed"
    by_dimension = defaultdict(int)
    for q in quarantined:
        key = (q.source_id, file_date.get((q.source_id, q.file_path)))
        by_dimension[key + (thresholds.quarantine_dimension(q.reason),)] += q["count"]
    dimensions = sorted({e["dimension"] for e in thresholds.raw["source_level"]["quarantine_reasons"]}
                        | {thresholds.raw["source_level"]["default_dimension"]})
    for (source_id, day), n in read.items():
        for dimension in dimensions:
            bad = by_dimension.get((source_id, day, dimension), 0)
            add(f"source.quarantined.{dimension}", dimension, source_id, day, n, bad, "bronze.quarantine",
                f"{bad} of {n} records quarantined")
        add("source.files_readable", thresholds.failed_file_dimension, source_id, day, files[(source_id, day)],
            failed[(source_id, day)], "bronze.ingest_ledger", f"{failed[(source_id, day)]} of {files[(source_id, day)]} files failed")
    _schedule_results(ledger, schedules, thresholds, add)
    return rows


def _schedule_results(ledger, schedules: dict, thresholds, add) -> None:
    present = defaultdict(set)
    for r in ledger:
        if r.status in ("loaded", "duplicate", "failed") and _date(r.extract_date):
            present[r.source_id].add(_date(r.extract_date))
    daily = {s: days for s, days in present.items() if schedules.get(s) == "daily"}
    if not daily:
        return
    first, as_of = min(min(d) for d in daily.values()), max(max(d) for d in daily.values())
    span = [first + timedelta(days=n) for n in range((as_of - first).days + 1)]
    for source_id, days in sorted(daily.items()):
        for day in span:
            add("source.daily_file_present", "completeness", source_id, day, 1, day not in days, "bronze.ingest_ledger",
                "delivered" if day in days else "no file for this extract date")
    for source_id, days in sorted(present.items()):
        tolerance = thresholds.freshness_tolerance_days(schedules.get(source_id, "once"))
        if tolerance is None:
            continue
        lag = (as_of - max(days)).days
        add("source.fresh", "timeliness", source_id, as_of, 1, lag > tolerance, "bronze.ingest_ledger",
            f"newest extract {max(days)}, {lag} day(s) behind the lake's newest {as_of}")
