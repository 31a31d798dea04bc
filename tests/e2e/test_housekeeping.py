"""Small files: 30 daily incremental loads keep files per table bounded (Delta auto compaction), housekeeping
OPTIMIZEs what is over its threshold without changing a row, and a second run is a no-op.

Own source (own registry file, source id ``hk_clinic``), so the demo tables are never touched: two entities,
one daily CSV each. Policy: the real ``metadata/lifecycle.yml`` (its ``auto_compact_min_files`` and its
``bronze.*`` rule for the patients table), plus one extra rule for the encounters table with auto compaction
off, so that the table's files are bounded by the OPTIMIZE threshold of housekeeping alone.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

import pytest
import yaml
from typer.testing import CliRunner

from carelake.ingest import ingest
from carelake.lake import content_hash
from carelake.lifecycle.housekeeping import (
    AUTO_COMPACT_PROPERTY,
    MIN_FILES_CONF,
    files_per_table,
    load_housekeeping,
    run_housekeeping,
    table_detail,
)
from carelake.registry import load_registry

SOURCE = "hk_clinic"
PATIENTS, ENCOUNTERS = f"bronze.{SOURCE}__patients", f"bronze.{SOURCE}__encounters"
TABLES = [PATIENTS, ENCOUNTERS]
DAYS = 30
FIRST_DAY = date(2026, 1, 1)
ENCOUNTERS_THRESHOLD = 16


def _write_day(root, day: date, rng: random.Random) -> None:
    folder = root / day.isoformat()
    folder.mkdir(parents=True)
    n = day.toordinal()
    patients = [f"P{n}-{i}" for i in range(rng.randint(5, 15))]
    (folder / "patients.csv").write_text("PID,Name,Sex\n" + "".join(
        f"{pid},Name {pid},{rng.choice('FM')}\n" for pid in patients), encoding="utf-8")
    (folder / "visits.csv").write_text("VID,PID,Type,Admit\n" + "".join(
        f"V{n}-{i},{rng.choice(patients)},{rng.choice(['outpatient', 'inpatient'])},{day}T{8 + i % 10:02d}:15:00\n"
        for i in range(rng.randint(10, 30))), encoding="utf-8")


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("housekeeping")
    rng = random.Random(10)
    for offset in range(DAYS):
        _write_day(root / "landing", FIRST_DAY + timedelta(days=offset), rng)
    source = {
        "id": SOURCE, "name": "Housekeeping test clinic", "kind": "hospital", "format": "csv", "csv": {},
        "entities": {
            "patients": {"path": f"{root}/landing/{{date}}/patients.csv",
                         "columns": {"PID": "patient_source_id", "Name": "name", "Sex": "sex"}},
            "encounters": {"path": f"{root}/landing/{{date}}/visits.csv",
                           "columns": {"VID": "encounter_source_id", "PID": "patient_source_id",
                                       "Type": "visit_type", "Admit": "admit_time"}},
        },
    }
    registry_file = root / "sources.yml"
    registry_file.write_text(yaml.safe_dump({"sources": [source]}), encoding="utf-8")
    return root, registry_file


@pytest.fixture(scope="module")
def policy(settings, landing):
    """The real lifecycle.yml with one rule in front: the encounters table is bounded by OPTIMIZE only."""
    root, _ = landing
    doc = yaml.safe_load((settings.metadata_dir / "lifecycle.yml").read_text(encoding="utf-8"))
    doc["housekeeping"]["tables"].insert(0, {
        "match": ENCOUNTERS, "auto_compact": False, "optimize_above_files": ENCOUNTERS_THRESHOLD,
        "reason": "test: a table without auto compaction, kept bounded by the housekeeping OPTIMIZE alone"})
    path = root / "lifecycle.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_housekeeping(path=path)


def _print_files(title: str, files: dict[str, int]) -> None:
    print(f"{title}: " + ", ".join(f"{t} {n}" for t, n in files.items()))


def _versions(spark) -> dict[str, int]:
    return {t: spark.sql(f"DESCRIBE HISTORY {t} LIMIT 1").first()["version"] for t in TABLES}


def test_thirty_daily_loads_stay_bounded_and_housekeeping_changes_no_row(spark, settings, landing, policy):
    root, registry_file = landing
    registry = load_registry(settings, path=registry_file)
    min_files = int(spark.conf.get(MIN_FILES_CONF))
    assert min_files == policy.auto_compact_min_files == load_housekeeping(settings).auto_compact_min_files
    assert policy.for_table(PATIENTS).auto_compact and not policy.for_table(ENCOUNTERS).auto_compact

    started = time.perf_counter()
    timeline: list[dict[str, int]] = []
    for offset in range(DAYS):
        day = (FIRST_DAY + timedelta(days=offset)).isoformat()
        report = ingest(settings, registry, source_ids=[SOURCE], date=day, spark=spark)
        assert report.balanced and len(report.outcomes) == 2 and not report.failed, report.totals()
        if offset == 0:  # the tables' first housekeeping run (weekly in the DAG): auto compaction for bronze.*
            first = run_housekeeping(spark, settings, policy, tables=TABLES)
            assert [o.auto_compact_set for o in first] == [True, False]
        timeline.append(files_per_table(spark, TABLES))
    loads_s = time.perf_counter() - started
    print(f"\n{DAYS} daily loads in {loads_s:.0f}s; files per table after each load:")
    for table in TABLES:
        print(f"  {table}: {[files[table] for files in timeline]}")

    # auto compaction kept the patients table bounded all along, and it really ran (auto OPTIMIZE commits)
    assert table_detail(spark, PATIENTS)["properties"].get(AUTO_COMPACT_PROPERTY) == "true"
    assert max(files[PATIENTS] for files in timeline) <= min_files + 1
    history = spark.sql(f"DESCRIBE HISTORY {PATIENTS}").collect()
    # housekeeping has not optimized this table (never over its threshold): every OPTIMIZE is Delta's auto compaction
    auto_compactions = [h for h in history if h.operation == "OPTIMIZE"]
    print(f"  auto compactions of {PATIENTS}: " + "; ".join(f"v{h.version} {dict(h.operationParameters)}"
                                                             for h in auto_compactions))
    assert len(auto_compactions) >= DAYS // min_files - 1, [(h.operation, h.operationParameters) for h in history]
    # without auto compaction one file per load piles up until housekeeping
    assert [files[ENCOUNTERS] for files in timeline] == list(range(1, DAYS + 1))

    hashes = {t: content_hash(spark, t) for t in TABLES}
    rows = {t: spark.table(t).count() for t in TABLES}
    before_dry = _versions(spark)
    dry = run_housekeeping(spark, settings, policy, dry_run=True, tables=TABLES)
    assert _versions(spark) == before_dry and [o.optimized for o in dry] == [False, True]

    started = time.perf_counter()
    outcomes = run_housekeeping(spark, settings, policy, tables=TABLES)
    print(f"housekeeping in {time.perf_counter() - started:.0f}s:")
    for outcome in outcomes:
        print("  " + outcome.line())
    after = {o.table: o for o in outcomes}
    assert after[ENCOUNTERS].optimized and after[ENCOUNTERS].files_before == DAYS
    assert after[ENCOUNTERS].files_after <= 2 and after[PATIENTS].files_after <= min_files + 1
    assert files_per_table(spark, TABLES) == {t: o.files_after for t, o in after.items()}
    assert {t: content_hash(spark, t) for t in TABLES} == hashes
    assert {t: spark.table(t).count() for t in TABLES} == rows
    last = spark.sql(f"DESCRIBE HISTORY {ENCOUNTERS} LIMIT 1").first()
    assert last.operation == "OPTIMIZE" and int(last.operationMetrics["numRemovedFiles"]) == DAYS

    versions = _versions(spark)
    again = run_housekeeping(spark, settings, policy, tables=TABLES)
    assert not any(o.optimized or o.auto_compact_set for o in again)
    assert _versions(spark) == versions and {o.table: o.files_after for o in again} == {
        t: o.files_after for t, o in after.items()}


def test_cli_dry_run_prints_files_per_table_and_changes_nothing(spark, settings, landing):
    from carelake.cli import app

    versions = _versions(spark)
    result = CliRunner().invoke(app, ["housekeeping", "--dry-run", "--table", PATIENTS, "--table", ENCOUNTERS])
    print(result.output)
    assert result.exit_code == 0, result.output
    assert PATIENTS in result.output and ENCOUNTERS in result.output and "dry run: nothing changed" in result.output
    assert _versions(spark) == versions
