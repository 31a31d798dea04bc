"""Lifecycle on the demo lake: dry run, archive (counts balance), erasure of one person from every layer.

Changes the demo lake (archives and deletes rows), so it runs after every read-only module.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

CHANGES_DEMO_LAKE = 2  # archives and erases: after the daily-load module (conftest)


@pytest.fixture(scope="module")
def archived_table(spark, demo_lake, gold):
    """A generated hospital's encounters table: the one the archive test moves and the erasure then reaches."""
    from carelake.lake import list_tables

    return next(t for t in list_tables(spark, ["bronze"]) if t.endswith("__encounters") and ".h0" in t)


def _policy_for(settings, table: str, archive_after_days: int):
    """The configured policy of the table, with archive-after shortened so that the demo's older half is cold."""
    from carelake.lifecycle import load_lifecycle

    policy = load_lifecycle(settings)
    configured = policy.for_table(table)
    assert configured is not None and configured.date_column == "_extract_date"
    changed = dataclasses.replace(configured, archive_after_days=archive_after_days, vacuum_retain_hours=168)
    return dataclasses.replace(policy, policies=[changed])


def _version(spark, table: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").first()["version"]


def test_dry_run_changes_nothing_then_archive_moves_rows_and_counts_balance(spark, settings, archived_table):
    from carelake.lifecycle import archive_path, run_lifecycle

    dates = sorted(r[0] for r in spark.sql(f"SELECT DISTINCT _extract_date FROM {archived_table}").collect())
    cutoff = dates[len(dates) // 2]
    as_of = date(2026, 12, 31)
    policy = _policy_for(settings, archived_table, (as_of - cutoff).days)
    before = spark.table(archived_table).count()
    cold = spark.sql(f"SELECT count(*) n FROM {archived_table} WHERE _extract_date < DATE'{cutoff}'").first()["n"]
    assert 0 < cold < before
    version = _version(spark, archived_table)

    [dry] = run_lifecycle(spark, settings, policy=policy, as_of=as_of, dry_run=True, tables=[archived_table])
    assert dry.archived == cold and dry.expired == 0
    assert _version(spark, archived_table) == version and not archive_path(settings, archived_table).exists()

    [done] = run_lifecycle(spark, settings, policy=policy, as_of=as_of, tables=[archived_table])
    archive = spark.read.format("delta").load(str(archive_path(settings, archived_table)))
    live = spark.table(archived_table).count()
    assert done.archived == cold == archive.count() and live == before - cold
    assert spark.sql(f"SELECT count(*) n FROM {archived_table} WHERE _extract_date < DATE'{cutoff}'").first()["n"] == 0
    # a rerun finds nothing more to move
    [again] = run_lifecycle(spark, settings, policy=policy, as_of=as_of, tables=[archived_table])
    assert again.archived == 0 and archive.count() == cold


def test_staging_reads_live_and_archived_bronze_rows_once(spark, settings, archived_table):
    """After the archive move (previous test), the staging view dbt builds still has every bronze row, once:
    a full refresh of silver loses nothing that bronze received."""
    from carelake.lifecycle import archive_path
    from carelake.transform import archived_bronze, run_dbt

    name = archived_table.split(".", 1)[1]
    assert archived_bronze(settings) == {name: str(archive_path(settings, archived_table))}
    result = run_dbt(["run", "--select", f"stg_{name}"], settings)
    assert result.returncode == 0, result.stdout[-3000:]
    rows = spark.sql(f"""
        SELECT count(*) n, count(DISTINCT _file_sha256, _row_number) distinct_rows,
               count_if(_extract_date < (SELECT min(_extract_date) FROM {archived_table})) archived
        FROM silver.stg_{name}""").first()
    live = spark.table(archived_table).count()
    cold = spark.read.format("delta").load(str(archive_path(settings, archived_table))).count()
    assert rows["n"] == rows["distinct_rows"] == live + cold and rows["archived"] == cold > 0


def test_erased_person_is_gone_from_every_layer_time_travel_included_and_audited(spark, settings, archived_table):
    from carelake.access.audit import AUDIT_TABLE, keyed_reference
    from carelake.lake import list_tables
    from carelake.lifecycle import archive_path, erase_person
    from carelake.registry import load_registry

    source_id = archived_table.split(".")[1].split("__")[0]
    archive = str(archive_path(settings, archived_table))
    # a person of that hospital with archived visits and a gold person row
    candidate = spark.sql(f"""
        SELECT m.person_id, m.patient_source_id, count(*) n FROM delta.`{archive}` a
        JOIN silver.mpi_person_map m ON m.source_id = a._source_id AND m.patient_source_id = a.patient_source_id
        JOIN gold.person p ON p.person_id = m.person_id
        GROUP BY 1, 2 ORDER BY n DESC, 1 LIMIT 1""").first()
    person_id, patient = candidate["person_id"], candidate["patient_source_id"]
    keys = [(r[0], r[1]) for r in spark.sql(
        f"SELECT source_id, patient_source_id FROM silver.mpi_person_map WHERE person_id = {person_id}").collect()]
    old_person_version = _version(spark, "gold.person")
    # the hospital's other systems (its PACS) name the patient by the same number
    organisation = {s.id: s.organization for s in load_registry(settings).sources}
    pairs = set(keys) | {(t, p) for s, p in keys for t, code in organisation.items() if code and code == organisation.get(s)}
    key_pred = " OR ".join(f"(src = '{s}' AND pid = '{p}')" for s, p in sorted(pairs))

    report = erase_person(spark, settings, f"{source_id}:{patient}", reason="PIPL art. 47 request #T-1",
                          requested_by="dpo-test")
    assert report.source_records == len(keys) and report.total > 0
    assert any(t.startswith("bronze.") for t in report.deleted) and "gold.person" in report.deleted
    assert any(t.startswith("delta.") for t in report.deleted)  # the archive copy

    # gone everywhere: any table with a person id or a source patient key, and the archive
    checks = []
    for table in list_tables(spark, ["bronze", "silver", "gold", "quality"]) + [f"delta.`{archive}`"]:
        cols = set(spark.sql(f"SELECT * FROM {table} LIMIT 0").columns)
        if "person_id" in cols:
            checks.append(f"SELECT '{table}' t FROM {table} WHERE person_id = {person_id}")
        src = "_source_id" if "_source_id" in cols else "source_id" if "source_id" in cols else None
        if src and "patient_source_id" in cols:
            checks.append(f"SELECT '{table}' t FROM (SELECT {src} src, patient_source_id pid FROM {table}) "
                          f"WHERE {key_pred}")
    assert len(checks) > 10
    assert spark.sql(" UNION ALL ".join(checks)).collect() == []
    # time travel: the version before the erasure is unreadable (files vacuumed) or holds none of their rows
    try:
        old = spark.sql(f"SELECT count(*) n FROM gold.person VERSION AS OF {old_person_version} "
                        f"WHERE person_id = {person_id}").first()["n"]
    except Exception as exc:  # noqa: BLE001 - Spark raises a wrapped FileNotFound / SparkException
        assert "exist" in str(exc).lower() or "not found" in str(exc).lower() or "FileNotFound" in str(exc)
    else:
        assert old == 0
    # audited with a keyed reference only
    record = spark.sql(f"SELECT * FROM {AUDIT_TABLE} WHERE action = 'erase' ORDER BY seq DESC LIMIT 1").first()
    assert record["user_name"] == "dpo-test" and record["purpose"] == "PIPL art. 47 request #T-1"
    assert keyed_reference(settings, f"person:{person_id}") in record["details"]
    text = str(record.asDict())
    assert patient not in text and f"person:{person_id}" not in text
    assert record["rows_returned"] == report.total
