"""Restore a backup into an empty lake root, verify it, and measure how fast that was.

1. every file of the manifest is copied from the backup that holds it, its SHA-256 checked on the way
   (a missing or altered file stops the restore, naming the file and the backup);
2. the catalog is re-created over the restored files (``catalog.restore_catalog``), in this process's
   Spark session, which must be the restored lake's (run ``carelake restore`` in its own process);
3. every Delta table is counted through the catalog (path-only tables by path) and compared with the
   row count the backup recorded at the same version.

The report gives bytes per second and, from it, the time a regional lake of the policy's size would
take (``regional_lake_gb`` in ``metadata/lifecycle.yml``) against the recovery-time objective.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from carelake.backup.catalog import restore_catalog
from carelake.backup.manifest import Manifest, backups_in, copy_with_sha256, file_location
from carelake.ingest.landed import sha256_of

COPY_THREADS = 4
VERIFY_THREADS = 4  # concurrent row counts after a restore


class RestoreError(RuntimeError):
    """The restore cannot go on: the target is not empty, a file is missing or its checksum differs."""


@dataclass
class RestoreReport:
    backup_id: str
    target: Path
    files: int = 0
    bytes: int = 0
    copy_seconds: float = 0.0
    catalog_seconds: float = 0.0
    verify_seconds: float = 0.0
    tables_verified: int = 0
    views: int = 0
    problems: list[str] = field(default_factory=list)
    regional_lake_gb: float = 0.0
    objective_minutes: float = 0.0

    @property
    def seconds(self) -> float:
        return self.copy_seconds + self.catalog_seconds + self.verify_seconds

    @property
    def bytes_per_second(self) -> float:
        return self.bytes / self.copy_seconds if self.copy_seconds else 0.0

    def estimated_minutes(self) -> float:
        """Copy time of a regional lake at the measured rate plus this restore's catalog and verify time."""
        if not self.bytes_per_second:
            return 0.0
        return (self.regional_lake_gb * 1e9 / self.bytes_per_second + self.catalog_seconds + self.verify_seconds) / 60

    def summary(self) -> str:
        verdict = "met" if self.estimated_minutes() <= self.objective_minutes else "NOT met"
        lines = [
            f"restored backup {self.backup_id} into {self.target}: {self.files:,} files, {self.bytes / 1e6:,.1f} MB, "
            f"checksums verified",
            f"time: copy {self.copy_seconds:.1f}s ({self.bytes_per_second / 1e6:,.1f} MB/s), catalog "
            f"{self.catalog_seconds:.1f}s, verify {self.verify_seconds:.1f}s, total {self.seconds:.1f}s",
            f"{self.tables_verified} Delta tables match the backup's row counts; {self.views} views re-created",
            f"recovery-time estimate for a {self.regional_lake_gb:,.0f} GB regional lake at this rate: "
            f"{self.estimated_minutes():.1f} min (objective {self.objective_minutes:.0f} min: {verdict})",
        ]
        lines += [f"PROBLEM {p}" for p in self.problems]
        return "\n".join(lines)


def choose_backup(backups: Path, backup_id: str | None = None) -> Manifest:
    found = backups_in(backups)
    if not found:
        raise RestoreError(f"no finished backup at {backups}")
    if backup_id is None:
        return found[-1]
    for manifest in found:
        if manifest.backup_id == backup_id:
            return manifest
    raise RestoreError(f"no backup {backup_id} at {backups} (have: {', '.join(m.backup_id for m in found)})")


def verify_backup(backups: Path, backup_id: str | None = None) -> list[str]:
    """Check every file a backup needs is present with its checksum; one line per bad file (empty: sound)."""
    manifest = choose_backup(backups, backup_id)
    bad = []
    for rel, entry in manifest.files.items():
        source = file_location(backups, entry, rel)
        if not source.is_file():
            bad.append(f"{rel}: missing from backup {entry.stored_in}")
        elif sha256_of(source) != entry.sha256:
            bad.append(f"{rel}: checksum differs in backup {entry.stored_in}")
    return bad


def _copy_files(backups: Path, manifest: Manifest, target: Path, report: RestoreReport) -> None:
    def copy(item):
        rel, entry = item
        source = file_location(backups, entry, rel)
        if not source.is_file():
            raise RestoreError(f"{rel}: missing from backup {entry.stored_in} ({source})")
        digest = copy_with_sha256(source, target / rel)
        if digest != entry.sha256:
            raise RestoreError(f"{rel}: checksum differs (backup {entry.stored_in}: expected {entry.sha256[:12]}…, "
                               f"read {digest[:12]}…)")
        return entry.size

    started = time.perf_counter()
    with ThreadPoolExecutor(COPY_THREADS) as pool:
        futures = [pool.submit(copy, item) for item in sorted(manifest.files.items())]
        try:
            for future in as_completed(futures):
                report.files += 1
                report.bytes += future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # stop at the first bad file
            raise
    report.copy_seconds = round(time.perf_counter() - started, 2)


def restore_files(backups: Path, target: Path, backup_id: str | None = None) -> tuple[Manifest, RestoreReport]:
    """Step 1 alone (no Spark): copy and check every file of the backup into the empty ``target``."""
    manifest = choose_backup(backups, backup_id)
    target = Path(target).resolve()
    if target.exists() and any(target.iterdir()):
        raise RestoreError(f"restore target {target} is not empty: restore into an empty or new folder")
    target.mkdir(parents=True, exist_ok=True)
    report = RestoreReport(backup_id=manifest.backup_id, target=target)
    _copy_files(backups, manifest, target, report)
    return manifest, report


def restore_lake(settings, backups: Path | None = None, backup_id: str | None = None) -> RestoreReport:
    """Restore into ``settings.lake_root`` (empty or missing) and verify; the Spark session this starts is
    the restored lake's, so call it in a process that has not used another lake."""
    from pyspark.sql import SparkSession

    from carelake.backup.backup import load_backup_policy
    from carelake.spark import get_spark

    policy = load_backup_policy(settings)
    backups = Path(backups or policy.location)
    active = SparkSession.getActiveSession()
    if active is not None and Path(active.conf.get("spark.sql.warehouse.dir").removeprefix("file:")) \
            != Path(settings.warehouse_dir).resolve():
        raise RestoreError("this process already has a Spark session on another lake: run the restore in its own "
                           "process (carelake restore)")
    manifest, report = restore_files(backups, settings.lake_root, backup_id)
    report.regional_lake_gb = policy.regional_lake_gb
    report.objective_minutes = policy.recovery_time_objective_minutes

    started = time.perf_counter()
    spark = get_spark(settings, app_name="carelake-restore")
    report.problems += restore_catalog(spark, Path(settings.lake_root), manifest.catalog)
    report.views = sum(1 for o in manifest.catalog.get("objects", []) if o["type"] == "VIEW")
    report.catalog_seconds = round(time.perf_counter() - started, 2)

    started = time.perf_counter()

    def verify(item) -> str | None:
        rel, table = item
        try:
            frame = spark.table(table.name) if table.name else spark.read.format("delta").load(
                str(Path(settings.lake_root) / rel))
            rows = frame.count()
        except Exception as exc:  # noqa: BLE001 - reported per table
            return f"{table.name or rel}: unreadable after restore: {str(exc).splitlines()[0]}"
        return None if rows == table.rows else f"{table.name or rel}: {rows} rows after restore, {table.rows} in the backup"

    # one count per table; Spark runs the small jobs of several threads side by side (planning is per job)
    with ThreadPoolExecutor(max_workers=VERIFY_THREADS, thread_name_prefix="restore-verify") as pool:
        problems = list(pool.map(verify, sorted(manifest.tables.items())))
    report.problems += [p for p in problems if p]
    report.tables_verified += sum(1 for p in problems if p is None)
    report.verify_seconds = round(time.perf_counter() - started, 2)
    return report
