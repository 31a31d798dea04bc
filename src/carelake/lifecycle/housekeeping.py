"""Small-file housekeeping: keep the number of data files per Delta table bounded, from ``metadata/lifecycle.yml``.

Every daily load adds files: each bronze write adds one or two per table (one per slice), each ledger MERGE
and each dbt incremental MERGE some more. Readers pay per file (listing, opening, footer reads, one task per
file), so a table of a year of daily loads would be read as hundreds of tiny files. Two Delta mechanisms keep
the count bounded, both driven by the ``housekeeping:`` section of ``metadata/lifecycle.yml``:

* **Auto compaction while writing** (Delta's post-commit hook, OSS Delta >= 3.1): a table whose property
  ``delta.autoOptimize.autoCompact`` is ``true`` compacts its small files right after a write, in the
  writing session, once it has at least ``spark.databricks.delta.autoCompact.minNumFiles`` of them. The
  property is per table (policy key ``auto_compact``; housekeeping sets it on the tables that match); the
  threshold is a session setting, so :func:`session_conf` gives it to every carelake Spark session
  (``carelake.spark.spark_conf``, which dbt's sessions share). A table created after the last housekeeping
  run gets the property at the next run; until then ``optimize_above_files`` bounds it.
* **OPTIMIZE on a threshold** (this module's :func:`run_housekeeping`, the ``housekeeping`` task of the weekly
  ``carelake_lifecycle`` DAG, ``carelake housekeeping``): every Delta table of the lifecycle's ``layers`` whose
  current snapshot has more than ``optimize_above_files`` files is compacted with ``OPTIMIZE`` (bin-packing;
  the rows and their values are unchanged, only the files holding them). A table at or under its threshold is
  left alone, so a second run right after the first changes nothing (no commit).

OPTIMIZE leaves the replaced files in storage for time travel; the lifecycle's ``VACUUM ... RETAIN n HOURS``
(same file, ``vacuum_retain_hours``) removes them once they are older than the retention, so VACUUM stays
with retention and this step never deletes a file.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

AUTO_COMPACT_PROPERTY = "delta.autoOptimize.autoCompact"
MIN_FILES_CONF = "spark.databricks.delta.autoCompact.minNumFiles"


@dataclass(frozen=True)
class HousekeepingRule:
    match: str
    reason: str
    auto_compact: bool = False
    optimize_above_files: int | None = None


@dataclass
class HousekeepingPolicy:
    rules: list[HousekeepingRule]
    layers: list[str]
    auto_compact_min_files: int | None = None

    def for_table(self, table: str) -> HousekeepingRule | None:
        return next((r for r in self.rules if fnmatch.fnmatch(table, r.match)), None)


def load_housekeeping(settings=None, path: Path | None = None) -> HousekeepingPolicy:
    """The ``housekeeping:`` section of ``metadata/lifecycle.yml`` (every rule must give its reason)."""
    from carelake.lifecycle.retention import lifecycle_document

    doc, path = lifecycle_document(settings, path)
    section = doc.get("housekeeping") or {}
    rules = []
    for spec in section.get("tables", []):
        unknown = set(spec) - set(HousekeepingRule.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: housekeeping rule {spec.get('match')!r} has unknown key(s) {sorted(unknown)}")
        if not spec.get("match") or not spec.get("reason"):
            raise ValueError(f"{path}: every housekeeping rule needs a match and a reason ({spec!r})")
        threshold = spec.get("optimize_above_files")
        if threshold is not None and (not isinstance(threshold, int) or threshold < 1):
            raise ValueError(f"{path}: {spec['match']!r}: optimize_above_files must be a positive integer or null")
        rules.append(HousekeepingRule(**spec))
    min_files = section.get("auto_compact_min_files")
    if min_files is not None and (not isinstance(min_files, int) or min_files < 2):
        raise ValueError(f"{path}: housekeeping.auto_compact_min_files must be an integer >= 2")
    layers = section.get("layers") or doc.get("layers") or ["bronze", "silver", "gold", "quality"]
    return HousekeepingPolicy(rules, list(layers), min_files)


def session_conf(settings) -> dict[str, str]:
    """Spark settings every carelake session needs for the policy's auto compaction (empty when none is set)."""
    try:
        policy = load_housekeeping(settings)
    except FileNotFoundError:
        return {}
    return {MIN_FILES_CONF: str(policy.auto_compact_min_files)} if policy.auto_compact_min_files else {}


@dataclass
class TableFiles:
    table: str
    rule: str
    files_before: int
    bytes_before: int
    files_after: int | None = None
    optimized: bool = False
    auto_compact_set: bool = False
    notes: list[str] = field(default_factory=list)

    def line(self, dry_run: bool = False) -> str:
        after = "-" if self.files_after is None else str(self.files_after)
        action = ("would OPTIMIZE" if dry_run else "OPTIMIZE") if self.optimized else "ok"
        if self.auto_compact_set:
            action += (", would set" if dry_run else ", set") + " auto compaction"
        extra = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.table:55} files {self.files_before:>5} -> {after:>5}  {self.bytes_before / 1e6:>9.1f} MB  {action}{extra}"


def _ref(table: str) -> str:
    """``db.table`` quoted part by part (a table may be named like a keyword, e.g. gold.location)."""
    return ".".join(f"`{part}`" for part in table.split(".", 1))


def table_detail(spark, table: str) -> dict:
    """``DESCRIBE DETAIL`` of one table as a dict (format, numFiles, sizeInBytes, properties, ...)."""
    return spark.sql(f"DESCRIBE DETAIL {_ref(table)}").first().asDict()


def files_per_table(spark, tables: list[str]) -> dict[str, int]:
    """Data files in each Delta table's current snapshot."""
    return {t: int(table_detail(spark, t)["numFiles"] or 0) for t in tables}


def housekeep_table(spark, table: str, rule: HousekeepingRule, dry_run: bool = False) -> TableFiles:
    from carelake.lifecycle.retention import latest_version

    detail = table_detail(spark, table)
    outcome = TableFiles(table, rule.match, int(detail["numFiles"] or 0), int(detail["sizeInBytes"] or 0))
    if (detail.get("format") or "").lower() != "delta":
        outcome.notes.append(f"not a Delta table ({detail.get('format')}): skipped")
        outcome.files_after = outcome.files_before
        return outcome
    properties = detail.get("properties") or {}
    if rule.auto_compact and str(properties.get(AUTO_COMPACT_PROPERTY, "")).lower() != "true":
        outcome.auto_compact_set = True
        if not dry_run:
            spark.sql(f"ALTER TABLE {_ref(table)} SET TBLPROPERTIES ('{AUTO_COMPACT_PROPERTY}' = 'true')")
    if rule.optimize_above_files is not None and outcome.files_before > rule.optimize_above_files:
        outcome.optimized = True
        if not dry_run:
            before = latest_version(spark, _ref(table))
            spark.sql(f"OPTIMIZE {_ref(table)}")
            if latest_version(spark, _ref(table)) == before:
                outcome.notes.append("nothing to compact (files already large)")
    outcome.files_after = outcome.files_before if dry_run else int(table_detail(spark, table)["numFiles"] or 0)
    return outcome


def run_housekeeping(spark, settings, policy: HousekeepingPolicy | None = None, dry_run: bool = False,
                     tables: list[str] | None = None) -> list[TableFiles]:
    """Set auto compaction and OPTIMIZE over-threshold tables (all Delta tables of the layers, or ``tables``)."""
    from carelake.lifecycle.retention import delta_tables

    policy = policy or load_housekeeping(settings)
    outcomes = []
    for table in tables or delta_tables(spark, policy.layers):
        rule = policy.for_table(table)
        if rule is not None:
            outcomes.append(housekeep_table(spark, table, rule, dry_run))
    return outcomes


def summary(outcomes: list[TableFiles], dry_run: bool = False) -> str:
    before = sum(o.files_before for o in outcomes)
    after = sum(o.files_after or 0 for o in outcomes)
    optimized = sum(o.optimized for o in outcomes)
    return (("dry run: nothing changed; " if dry_run else "") +
            f"{len(outcomes)} tables, {optimized} {'to optimize' if dry_run else 'optimized'}, "
            f"files {before} -> {after}")
