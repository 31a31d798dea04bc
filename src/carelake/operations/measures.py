"""The named measures: indicator values that are not a SQL query over lake tables.

A measure is ``function(context, **args) -> float | None`` (``None``: no data), registered in :data:`MEASURES`
under the name ``metadata/operations/indicators.yml`` uses (``formula: {measure: NAME, args: {...}}``).
``context`` carries the Spark session, the settings and a memo shared by one evaluation (indicators are
evaluated in threads: :meth:`MeasureContext.remember` computes each entry once), so the Delta tables are
described once however many storage indicators there are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

STORAGE_METRICS = {"bytes": "sizeInBytes", "files": "numFiles", "tables": None}
BACKUP_METRICS = ("age_hours", "count", "lake_bytes")


@dataclass
class MeasureContext:
    spark: object
    settings: object
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    memo: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remember(self, key, compute):
        """The memo's entry for ``key``, computed by ``compute()`` the first time (one thread at a time)."""
        with self._lock:
            if key not in self.memo:
                self.memo[key] = compute()
            return self.memo[key]


def delta_table_details(context: MeasureContext, database: str) -> list[dict]:
    """``DESCRIBE DETAIL`` of every Delta table (views and other formats left out) of a database, once."""
    def describe() -> list[dict]:
        spark = context.spark
        if not spark.catalog.databaseExists(database):
            return []
        details = [spark.sql(f"DESCRIBE DETAIL `{database}`.`{table.name}`").first().asDict()
                   for table in spark.catalog.listTables(database) if table.tableType != "VIEW" and not table.isTemporary]
        return [d for d in details if d.get("format") == "delta"]

    return context.remember(("detail", database), describe)


def storage(context: MeasureContext, layer: str, metric: str) -> float:
    """Bytes, data files or number of the Delta tables of one layer (database), current versions."""
    if metric not in STORAGE_METRICS:
        raise ValueError(f"storage metric must be one of {', '.join(STORAGE_METRICS)}, got {metric!r}")
    details = delta_table_details(context, layer)
    if metric == "tables":
        return float(len(details))
    return float(sum(d[STORAGE_METRICS[metric]] or 0 for d in details))


def backup(context: MeasureContext, metric: str) -> float | None:
    """From the finished backups' manifests at the backup location: age of the newest, how many, its lake bytes."""
    from carelake.backup import backups_in, load_backup_policy

    if metric not in BACKUP_METRICS:
        raise ValueError(f"backup metric must be one of {', '.join(BACKUP_METRICS)}, got {metric!r}")
    manifests = context.remember("backups", lambda: backups_in(load_backup_policy(context.settings).location))
    if metric == "count":
        return float(len(manifests))
    if not manifests:
        return None
    newest = max(manifests, key=lambda m: m.created_at)
    if metric == "lake_bytes":
        return float(newest.total_bytes)
    created = datetime.fromisoformat(newest.created_at)
    created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    return (context.now - created).total_seconds() / 3600.0


def registered_sources(context: MeasureContext) -> float:
    """Sources in the registry."""
    from carelake.registry import load_registry

    return float(len(load_registry(context.settings).sources))


MEASURES = {"storage": storage, "backup": backup, "registered_sources": registered_sources}
