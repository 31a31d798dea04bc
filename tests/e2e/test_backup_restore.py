"""Backup and restore of the demo lake on real Spark + Delta: full, then incremental after changes, then a
restore into an empty root in its own process (``carelake restore``) that reproduces every Delta table
exactly (row count and content hash at the backed-up version), with its history (time travel) and catalog.

Runs after the modules that change the demo lake (daily load, archive, erasure) so that the backup holds
their results too (archives, vacuumed tables) in a full suite run.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

CHANGES_DEMO_LAKE = 3  # adds (and finally drops) a probe database; reads the lake as the other modules leave it
PROBE = "backup_probe"


@pytest.fixture(scope="module")
def policy(settings, tmp_path_factory):
    from carelake.backup import load_backup_policy

    return dataclasses.replace(load_backup_policy(settings), location=tmp_path_factory.mktemp("backups"))


@pytest.fixture(scope="module")
def probe(spark, settings, gold):
    """A table with deletion vectors enabled, so that the incremental backup meets updates and deletes."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {PROBE} LOCATION '{Path(settings.lake_root) / PROBE}'")
    spark.sql(f"CREATE TABLE {PROBE}.events (id BIGINT, note STRING) USING delta "
              "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    spark.sql(f"INSERT INTO {PROBE}.events SELECT id, 'first' FROM range(0, 100)")
    folder = Path(settings.lake_root) / PROBE
    spark.range(7).write.format("delta").save(str(folder / "path_only"))  # a Delta table outside the catalog
    yield f"{PROBE}.events"
    spark.sql(f"DROP DATABASE IF EXISTS {PROBE} CASCADE")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def chain(spark, settings, policy, probe):
    from carelake.backup import take_backup

    full = take_backup(spark, settings, kind="full", policy=policy)
    spark.sql(f"INSERT INTO {probe} SELECT id, 'added' FROM range(100, 150)")
    spark.sql(f"UPDATE {probe} SET note = 'changed' WHERE id < 10")
    spark.sql(f"DELETE FROM {probe} WHERE id BETWEEN 20 AND 29")
    spark.sql(f"CREATE OR REPLACE VIEW {PROBE}.recent AS SELECT * FROM {probe} WHERE id >= 100")
    incremental = take_backup(spark, settings, kind="auto", policy=policy)
    return full, incremental


@pytest.fixture(scope="module")
def restored(settings, policy, chain, tmp_path_factory):
    """``carelake restore`` of the newest backup into an empty root, in its own process and catalog server."""
    from carelake import metastore

    target = tmp_path_factory.mktemp("restored") / "lake"
    with socket.socket() as sock:  # the restored lake's own catalog server
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CARELAKE_METASTORE_PORT": str(port)}
    proc = subprocess.run([sys.executable, "-m", "carelake", "restore", "--to", str(target), "--from", str(policy.location)],
                          capture_output=True, text=True, env=env, timeout=900)
    metastore.stop(settings.with_(lake_root=target, metastore_port=port))
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return target, proc.stdout


def _lake_tables(lake_root: Path) -> set[str]:
    return {p.parent.relative_to(lake_root).as_posix() for p in lake_root.rglob("_delta_log")
            if "_catalog" not in p.parts}


def test_full_backup_holds_every_table_file_and_catalog_object(spark, settings, policy, chain):
    from carelake.backup.manifest import file_location
    from carelake.ingest.landed import sha256_of

    full, _ = chain
    assert set(full.tables) == _lake_tables(Path(settings.lake_root))  # no table was added or dropped since
    assert full.kind == "full" and full.parent is None
    assert full.copied_files == len(full.files) and {f.stored_in for f in full.files.values()} == {full.backup_id}
    assert full.tables[f"{PROBE}/path_only"].name is None and full.tables[f"{PROBE}/path_only"].rows == 7
    catalogued = {o["name"] for o in full.catalog["objects"] if o["type"] != "VIEW"}
    assert {t.name for t in full.tables.values() if t.name} == catalogued
    views = {f"{db[0]}.{v.viewName}" for db in spark.sql("SHOW DATABASES").collect()
             for v in spark.sql(f"SHOW VIEWS IN `{db[0]}`").collect() if not v.isTemporary}
    views.discard(f"{PROBE}.recent")  # made after the full backup (for the incremental one)
    assert views and {o["name"] for o in full.catalog["objects"] if o["type"] == "VIEW"} == views
    for rel, entry in list(full.files.items())[:: max(1, len(full.files) // 50)]:  # a sample of checksums
        assert sha256_of(file_location(policy.location, entry, rel)) == entry.sha256


def test_incremental_copies_only_what_the_delta_logs_added(spark, settings, chain, probe):
    full, incremental = chain
    assert incremental.kind == "incremental" and incremental.parent == full.backup_id
    copied = {rel for rel, e in incremental.files.items() if e.stored_in == incremental.backup_id}
    assert len(copied) == incremental.copied_files > 0
    changed_tables = {rel for rel in incremental.tables if incremental.tables[rel].version != full.tables.get(rel,
                      dataclasses.replace(incremental.tables[rel], version=-1)).version}
    assert changed_tables == {f"{PROBE}/events"}
    for rel in copied:  # data files only of the changed table; logs only of it (plus _last_checkpoint files)
        table = next((t for t in incremental.tables if rel.startswith(t + "/")), None)
        assert table is None or table in changed_tables or rel.endswith("_last_checkpoint"), rel
    assert any(r.startswith(f"{PROBE}/events/") and Path(r).name.startswith("deletion_vector_") for r in copied)
    assert incremental.copied_bytes < 0.05 * incremental.total_bytes
    assert incremental.tables[f"{PROBE}/events"].rows == spark.table(probe).count() == 140
    assert any(o["name"] == f"{PROBE}.recent" for o in incremental.catalog["objects"])


def test_restore_reproduces_every_table_with_history_and_catalog(spark, settings, chain, restored):
    from carelake.lake import frame_hash

    _, incremental = chain
    target, output = restored
    assert f"{len(incremental.tables)} Delta tables match" in output and "PROBLEM" not in output
    assert "recovery-time estimate" in output and "MB/s" in output
    live_root = Path(settings.lake_root)

    def differs(item) -> bool:
        rel, table = item
        live = spark.read.format("delta").option("versionAsOf", table.version).load(str(live_root / rel))
        return frame_hash(live) != frame_hash(spark.read.format("delta").load(str(target / rel)))

    # restore itself checks every file's checksum and every table's row count (its output, above); the content hash
    # compares a sample on top: the first table of every database and every fourth table
    items = sorted(incremental.tables.items())
    first_of_database = {rel.split("/")[0]: rel for rel, _ in reversed(items)}
    items = [(rel, t) for i, (rel, t) in enumerate(items) if i % 4 == 0 or first_of_database[rel.split("/")[0]] == rel]
    with ThreadPoolExecutor(max_workers=4) as pool:  # small jobs side by side: the check reads each table twice
        differ = [rel for (rel, _), bad in zip(items, pool.map(differs, items)) if bad]
    assert not differ, f"tables that differ after restore: {differ}"
    events = f"{PROBE}/events"
    history = spark.sql(f"DESCRIBE HISTORY delta.`{target / events}`").count()
    assert history == incremental.tables[events].version + 1
    for version in range(history):  # time travel intact: every version reads as it did in the live lake
        live = spark.read.format("delta").option("versionAsOf", version).load(str(live_root / events))
        back = spark.read.format("delta").option("versionAsOf", version).load(str(target / events))
        assert frame_hash(live) == frame_hash(back), version


def test_a_damaged_backup_is_refused_naming_the_file(settings, policy, chain, tmp_path):
    from carelake.backup import RestoreError, verify_backup
    from carelake.backup.manifest import file_location
    from carelake.backup.restore import restore_files

    _, incremental = chain
    rel, entry = sorted(incremental.files.items())[0]
    stored = file_location(policy.location, entry, rel)
    original = stored.read_bytes()
    try:
        stored.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]) if original else b"x")
        assert verify_backup(policy.location) == [f"{rel}: checksum differs in backup {entry.stored_in}"]
        with pytest.raises(RestoreError, match=rf"{rel}: checksum differs"):
            restore_files(policy.location, tmp_path / "lake")
    finally:
        stored.write_bytes(original)
        os.utime(stored, ns=(entry.mtime_ns, entry.mtime_ns))
    assert verify_backup(policy.location) == []
    with pytest.raises(RestoreError, match="not empty"):
        restore_files(policy.location, Path(settings.lake_root))
