"""Retention, archiving and VACUUM per table, from ``metadata/lifecycle.yml``.

For each table of the lake the first matching policy (``match`` is a glob on ``db.table``) says:

* ``archive_after_days`` — rows whose ``date_column`` is older than that (relative to ``as_of``) are
  copied to the archive Delta location ``<lake>/_archive/<db>/<table>`` (standing in for colder object
  storage), then deleted from the live table;
* ``retention_days`` — rows older than that are deleted, from the live table and from its archive;
* ``vacuum_retain_hours`` — ``VACUUM ... RETAIN n HOURS`` afterwards (live and archive).

The archive copy is idempotent: each move is tagged ``_archive_batch = <table>@v<live version>/<cutoff>``
and written with ``replaceWhere`` on that tag, so a run that died between the archive write and the
live delete is repaired by the rerun (same live version, same tag) instead of duplicating rows.
``dry_run`` counts what would move or go and changes nothing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path


@dataclass(frozen=True)
class TablePolicy:
    match: str
    reason: str
    date_column: str | None = None
    archive_after_days: int | None = None
    retention_days: int | None = None
    vacuum_retain_hours: int | None = None


@dataclass
class LifecyclePolicy:
    policies: list[TablePolicy]
    layers: list[str]

    def for_table(self, table: str) -> TablePolicy | None:
        return next((p for p in self.policies if fnmatch.fnmatch(table, p.match)), None)


def lifecycle_document(settings=None, path: Path | None = None) -> tuple[dict, Path]:
    """``metadata/lifecycle.yml`` (or ``path``) parsed, and its path: retention, housekeeping and backups read it."""
    import yaml

    if path is None:
        from carelake.config import load_settings

        path = (settings or load_settings()).metadata_dir / "lifecycle.yml"
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}, Path(path)


def load_lifecycle(settings=None, path: Path | None = None) -> LifecyclePolicy:
    doc, path = lifecycle_document(settings, path)
    defaults = doc.get("defaults", {})
    policies = []
    for spec in doc["tables"]:
        merged = {**defaults, **spec}
        if not merged.get("reason"):
            raise ValueError(f"{path}: policy {spec.get('match')!r} needs a reason")
        if (merged.get("archive_after_days") or merged.get("retention_days")) and not merged.get("date_column"):
            raise ValueError(f"{path}: policy {spec['match']!r} archives or expires rows but names no date_column")
        policies.append(TablePolicy(**{k: merged.get(k) for k in TablePolicy.__dataclass_fields__}))
    return LifecyclePolicy(policies, list(doc.get("layers", ["bronze", "silver", "gold", "quality"])))


def archive_path(settings, table: str) -> Path:
    db, name = table.split(".", 1)
    return Path(settings.lake_root) / "_archive" / db / name


def archived_tables(settings, db: str = "*") -> dict[str, Path]:
    """{db.table: archive location} of the archives that exist (of one database, or all)."""
    root = Path(settings.lake_root) / "_archive"
    return {f"{log.parent.parent.name}.{log.parent.name}": log.parent
            for log in sorted(root.glob(f"{db}/*/_delta_log"))}


def _delta_exists(spark, path: Path) -> bool:
    return (path / "_delta_log").is_dir()


@dataclass
class TableOutcome:
    table: str
    policy: str
    rows_before: int = 0
    archived: int = 0
    expired: int = 0
    archive_expired: int = 0
    vacuumed: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return (f"{self.table:55} rows {self.rows_before:>8}  archived {self.archived:>7}  expired {self.expired:>7}  "
                f"archive expired {self.archive_expired:>6}  vacuum {'yes' if self.vacuumed else 'no'}{extra}")


def latest_version(spark, table_ref: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY {table_ref} LIMIT 1").first()["version"]


def _older_than(date_column: str, cutoff: date) -> str:
    return f"to_date(`{date_column}`) < DATE'{cutoff.isoformat()}'"


def _move_to_archive(spark, settings, table: str, predicate: str, cutoff: date) -> int:
    from pyspark.sql import functions as F

    version = latest_version(spark, table)
    moving = spark.sql(f"SELECT * FROM {table} VERSION AS OF {version} WHERE {predicate}")
    tag = f"{table}@v{version}/{cutoff.isoformat()}"
    moving = moving.withColumn("_archive_batch", F.lit(tag)).withColumn(
        "_archived_at", F.lit(datetime.now(timezone.utc).replace(tzinfo=None)).cast("timestamp_ntz"))
    target = archive_path(settings, table)
    writer = moving.write.format("delta").option("mergeSchema", "true")
    if _delta_exists(spark, target):
        writer = writer.mode("overwrite").option("replaceWhere", f"_archive_batch = '{tag}'")
    else:
        writer = writer.mode("overwrite")
    writer.save(str(target))
    moved = spark.read.format("delta").load(str(target)).where(F.col("_archive_batch") == tag).count()
    spark.sql(f"DELETE FROM {table} WHERE {predicate}")
    return moved


def _delete_count(spark, table_ref: str, predicate: str, dry_run: bool) -> int:
    if dry_run:
        return spark.sql(f"SELECT count(*) AS n FROM {table_ref} WHERE {predicate}").first()["n"]
    result = spark.sql(f"DELETE FROM {table_ref} WHERE {predicate}").first()
    return int((result.asDict() if result is not None else {}).get("num_affected_rows") or 0)


def run_table(spark, settings, table: str, policy: TablePolicy, as_of: date, dry_run: bool = False) -> TableOutcome:
    outcome = TableOutcome(table, policy.match)
    outcome.rows_before = spark.table(table).count()
    columns = {c.lower() for c in spark.table(table).columns}
    if policy.date_column and policy.date_column.lower() not in columns:
        outcome.notes.append(f"no column {policy.date_column}: rows kept")
    elif policy.date_column:
        archive = archive_path(settings, table)
        if policy.archive_after_days is not None:
            cutoff = as_of - timedelta(days=policy.archive_after_days)
            predicate = _older_than(policy.date_column, cutoff)
            if dry_run:
                outcome.archived = spark.sql(f"SELECT count(*) n FROM {table} WHERE {predicate}").first()["n"]
            elif spark.sql(f"SELECT 1 FROM {table} WHERE {predicate} LIMIT 1").collect():
                outcome.archived = _move_to_archive(spark, settings, table, predicate, cutoff)
        if policy.retention_days is not None:
            predicate = _older_than(policy.date_column, as_of - timedelta(days=policy.retention_days))
            outcome.expired = _delete_count(spark, table, predicate, dry_run)
            if _delta_exists(spark, archive):
                outcome.archive_expired = _delete_count(spark, f"delta.`{archive}`", predicate, dry_run)
    if policy.vacuum_retain_hours is not None and not dry_run:
        spark.sql(f"VACUUM {table} RETAIN {int(policy.vacuum_retain_hours)} HOURS")
        if _delta_exists(spark, archive_path(settings, table)):
            spark.sql(f"VACUUM delta.`{archive_path(settings, table)}` RETAIN {int(policy.vacuum_retain_hours)} HOURS")
        outcome.vacuumed = True
    return outcome


def delta_tables(spark, layers: list[str]) -> list[str]:
    """Delta tables (not views) of the given databases."""
    existing = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    tables = []
    for layer in layers:
        if layer not in existing:
            continue
        views = {row.viewName for row in spark.sql(f"SHOW VIEWS IN {layer}").collect()}
        tables.extend(f"{layer}.{row.tableName}" for row in spark.sql(f"SHOW TABLES IN {layer}").collect()
                      if not row.isTemporary and row.tableName not in views)
    return sorted(tables)


def run_lifecycle(spark, settings, policy: LifecyclePolicy | None = None, as_of: date | None = None,
                  dry_run: bool = False, tables: list[str] | None = None) -> list[TableOutcome]:
    """Archive, expire and vacuum every table with a policy (or just ``tables``); one outcome per table."""
    policy = policy or load_lifecycle(settings)
    as_of = as_of or datetime.now(timezone.utc).date()
    outcomes = []
    for table in tables or delta_tables(spark, policy.layers):
        table_policy = policy.for_table(table)
        if table_policy is not None:
            outcomes.append(run_table(spark, settings, table, table_policy, as_of, dry_run))
    return outcomes
