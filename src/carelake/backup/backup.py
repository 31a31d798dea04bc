"""Take a full or incremental backup of the whole lake: every Delta table's log and files, every other
file under the lake root (reports, alerts, data docs, archives), and the catalog (see ``catalog``).

Each Delta table is backed up at one version ``V`` (its newest commit when the backup reaches it):
log files up to ``V`` and the files they add; commits made while the backup runs belong to the next one.
Incremental: a table already in the parent backup at version ``Vp`` copies the log files it has not
got and the files that commits ``Vp+1 .. V`` add (read from the log, not found by listing); a table
whose log no longer holds those commits, or that was re-created, is copied whole. Files of the parent
that are gone from the lake (vacuumed, erased) are dropped from the new manifest, so a restore never
brings back rows that VACUUM or an erasure removed. Other files are compared by size and mtime.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from carelake.backup import delta_log
from carelake.backup.catalog import LAKE_PREFIX, dump_catalog
from carelake.backup.manifest import FILES, FileEntry, Manifest, TableEntry, backups_in, copy_with_sha256, unfinished_in

SKIPPED_DIRS = (
    "_catalog",  # the metastore's Derby files: recorded logically by catalog.dump_catalog
    "_cluster",  # runtime state of a cluster run (carelake.cluster logs, the code zip shipped to executors)
)
COPY_THREADS = 4


@dataclass(frozen=True)
class BackupPolicy:
    location: Path
    full_every_days: int = 7
    keep_full_backups: int = 4
    regional_lake_gb: float = 500.0
    recovery_time_objective_minutes: float = 15.0


def load_backup_policy(settings) -> BackupPolicy:
    """The ``backup:`` section of ``metadata/lifecycle.yml``; ``CARELAKE_BACKUP_ROOT`` overrides the location."""
    from carelake.lifecycle.retention import lifecycle_document

    doc, _ = lifecycle_document(settings)
    spec = dict(doc.get("backup") or {})
    spec.pop("reason", None)
    configured = spec.pop("location", "backups")
    path = Path(os.environ.get("CARELAKE_BACKUP_ROOT") or configured).expanduser()
    return BackupPolicy(location=(path if path.is_absolute() else Path(settings.project_dir) / path).resolve(), **spec)


def _walk(lake_root: Path) -> tuple[list[Path], list[Path]]:
    """(Delta table folders, other files) under the lake root."""
    tables, files = [], []
    for folder, dirs, names in os.walk(lake_root):
        here = Path(folder)
        if here == lake_root:
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        if delta_log.is_delta_table(here):
            tables.append(here)
            dirs[:] = []
            continue
        files.extend(here / n for n in names)
        dirs.sort()
    return tables, files


def _table_files(table_dir: Path, version: int) -> list[Path]:
    """Every file of a table folder for a whole copy: data files (also uncommitted ones: harmless) and the
    log through ``version``."""
    log = {table_dir / rel for rel in delta_log.log_files_through(table_dir, version)}
    data = [p for p in table_dir.rglob("*") if p.is_file() and delta_log.LOG_DIR not in p.relative_to(table_dir).parts]
    return sorted(log) + sorted(data)


def _data_files_by_table(manifest: Manifest) -> dict[str, list[tuple[str, FileEntry]]]:
    """The non-log files of each Delta table of ``manifest``: {table folder: [(path, entry)]}."""
    grouped: dict[str, list[tuple[str, FileEntry]]] = {}
    for rel, entry in manifest.files.items():
        parts = rel.split("/")
        for depth in range(len(parts) - 1, 0, -1):
            table = "/".join(parts[:depth])
            if table in manifest.tables:
                if parts[depth] != delta_log.LOG_DIR:
                    grouped.setdefault(table, []).append((rel, entry))
                break
    return grouped


def _row_count(spark, table_dir: Path, version: int) -> int:
    return spark.read.format("delta").option("versionAsOf", version).load(str(table_dir)).count()


def _new_backup_id(kind: str, now: datetime, backups: Path) -> str:
    base = f"{now:%Y%m%dT%H%M%SZ}-{kind}"
    backup_id, n = base, 1
    while (backups / backup_id).exists():
        n += 1
        backup_id = f"{base}-{n}"
    return backup_id


def take_backup(spark, settings, kind: str = "auto", policy: BackupPolicy | None = None,
                now: datetime | None = None) -> Manifest:
    """Back up the lake to the policy's location. ``kind``: full, incremental, or auto (incremental unless
    there is no backup yet or the newest full one is older than ``full_every_days``)."""
    policy = policy or load_backup_policy(settings)
    backups = policy.location
    lake_root = Path(settings.lake_root).resolve()
    now = now or datetime.now(timezone.utc)
    if backups == lake_root or lake_root in backups.parents:
        raise ValueError(f"backup location {backups} is inside the lake {lake_root}: choose a folder outside it")
    started = time.perf_counter()
    for leftover in unfinished_in(backups):  # a backup that died: its folder holds no usable state
        shutil.rmtree(leftover, ignore_errors=True)
    existing = backups_in(backups)
    parent = existing[-1] if existing else None
    if kind == "auto":
        fulls = [b for b in existing if b.kind == "full"]
        fresh = fulls and (now - datetime.fromisoformat(fulls[-1].created_at)).days < policy.full_every_days
        kind = "incremental" if fresh else "full"
    if kind not in ("full", "incremental"):
        raise ValueError(f"backup kind must be full, incremental or auto, not {kind!r}")
    if kind == "incremental" and parent is None:
        raise ValueError(f"no backup at {backups} to be incremental to: take a full backup first")
    if kind == "full":
        parent = None

    manifest = Manifest(backup_id=_new_backup_id("full" if kind == "full" else "incr", now, backups), kind=kind,
                        parent=parent.backup_id if parent else None, created_at=now.isoformat(),
                        lake_root=str(lake_root))
    manifest.catalog = dump_catalog(spark, lake_root)
    names = {obj["location"].removeprefix(LAKE_PREFIX): obj["name"] for obj in manifest.catalog["objects"]
             if obj.get("location", "").startswith(LAKE_PREFIX)}
    table_dirs, plain_files = _walk(lake_root)
    parent_files_by_table = _data_files_by_table(parent) if parent else {}
    to_copy: list[Path] = []

    def carry_or_copy(path: Path, reuse: bool) -> None:
        rel = path.relative_to(lake_root).as_posix()
        old = parent.files.get(rel) if parent else None
        if reuse and old is not None:
            manifest.files[rel] = old
        else:
            to_copy.append(path)

    for table_dir in table_dirs:
        rel_table = table_dir.relative_to(lake_root).as_posix()
        version = delta_log.latest_version(table_dir)
        if version < 0:
            continue
        before = parent.tables.get(rel_table) if parent else None
        added = None
        if before is not None and before.version <= version:
            try:
                added = delta_log.files_added(table_dir, before.version, version)
            except delta_log.DeltaLogError:
                added = None  # the log was cleaned up past the parent's version: copy the table whole
        if added is None:
            for path in _table_files(table_dir, version):
                carry_or_copy(path, reuse=False)
        else:
            for rel in delta_log.log_files_through(table_dir, version):
                old = parent.files.get(f"{rel_table}/{rel}")
                path = table_dir / rel
                same = old is not None and rel.rsplit("/", 1)[-1] != "_last_checkpoint" and old.size == path.stat().st_size
                carry_or_copy(path, reuse=same)
            for rel in sorted(added):
                carry_or_copy(table_dir / rel, reuse=False)
            for rel, entry in parent_files_by_table.get(rel_table, ()):  # older files still on disk: time travel
                if rel not in manifest.files and (lake_root / rel).is_file():
                    manifest.files[rel] = entry
        manifest.tables[rel_table] = TableEntry(version=version, rows=_row_count(spark, table_dir, version),
                                                name=names.get(rel_table))
    for path in plain_files:
        rel = path.relative_to(lake_root).as_posix()
        old = parent.files.get(rel) if parent else None
        stat = path.stat()
        carry_or_copy(path, reuse=old is not None and old.size == stat.st_size and old.mtime_ns == stat.st_mtime_ns)

    target_root = backups / manifest.backup_id / FILES

    def copy(path: Path) -> tuple[str, FileEntry | None]:
        rel = path.relative_to(lake_root).as_posix()
        try:
            stat = path.stat()
            digest = copy_with_sha256(path, target_root / rel)
        except FileNotFoundError:  # removed while the backup ran (a VACUUM, a temp file): not part of V
            return rel, None
        return rel, FileEntry(size=stat.st_size, sha256=digest, mtime_ns=stat.st_mtime_ns, stored_in=manifest.backup_id)

    with ThreadPoolExecutor(COPY_THREADS) as pool:
        for rel, entry in pool.map(copy, dict.fromkeys(to_copy)):
            if entry is not None:
                manifest.files[rel] = entry
                manifest.copied_files += 1
                manifest.copied_bytes += entry.size
    manifest.seconds = round(time.perf_counter() - started, 2)
    manifest.write(backups)
    prune(backups, policy.keep_full_backups)
    return manifest


def prune(backups: Path, keep_full_backups: int) -> list[str]:
    """Remove whole chains (a full backup and its incrementals) older than the newest ``keep_full_backups``
    full ones; return the removed backup ids."""
    existing = backups_in(backups)
    fulls = [b.backup_id for b in existing if b.kind == "full"]
    if keep_full_backups < 1 or len(fulls) <= keep_full_backups:
        return []
    oldest_kept = fulls[-keep_full_backups]
    removed = [b.backup_id for b in existing if b.backup_id < oldest_kept]
    for backup_id in removed:
        shutil.rmtree(backups / backup_id)
    return removed
