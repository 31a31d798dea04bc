"""Bronze ingestion end to end on real Spark + Delta: counts, reruns, bad input, new sources, drift."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from carelake.ingest import LEDGER_TABLE, QUARANTINE_TABLE, ingest
from carelake.ingest.runner import staging_folder
from carelake.registry import load_registry

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"


def ledger_rows(spark, source_id: str) -> dict[str, dict]:
    rows = spark.table(LEDGER_TABLE).where(f"source_id = '{source_id}'").collect()
    return {Path(r.file_path).name: r.asDict() for r in rows}


def quarantine_rows(spark, source_id: str) -> list[tuple[str, int, str]]:
    rows = spark.table(QUARANTINE_TABLE).where(f"source_id = '{source_id}'").collect()
    return sorted((Path(r.file_path).name, r.row_number, r.reason) for r in rows)


def write_registry(tmp_path: Path, sources: list[dict]) -> Path:
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return path


def csv_source(source_id: str, folder: Path, entity: str = "patients", columns=None, **csv_options) -> dict:
    return {
        "id": source_id, "name": source_id, "kind": "hospital", "format": "csv", "csv": csv_options,
        "entities": {entity: {"path": f"{folder}/{{date}}/*.csv", "columns": columns or {"PID": "patient_source_id"}}},
    }


# ---------------------------------------------------------------- the demo lake


def test_generated_files_land_in_bronze_with_exact_counts(spark, demo_lake, demo_extracts):
    assert demo_lake.balanced
    by_file = {o.file.path: o for o in demo_lake.outcomes}
    expected_per_table: dict[str, int] = {}
    for source_id, entity, relative, records, _date in demo_extracts.files:
        outcome = by_file[demo_extracts.out_dir / relative]
        if outcome.status == "duplicate":  # an unchanged daily snapshot: same bytes as a file loaded before
            assert any(o.status == "loaded" and o.file.key == outcome.file.key for o in demo_lake.outcomes), relative
            continue
        assert (outcome.status, outcome.rows_read, outcome.rows_bronze) == ("loaded", records, records), relative
        table = f"bronze.{source_id}__{entity}"
        expected_per_table[table] = expected_per_table.get(table, 0) + records
    for table, expected in expected_per_table.items():
        if expected:
            assert spark.table(table).count() == expected, table


def test_bronze_rows_carry_lineage_and_mapped_names(spark, demo_lake, demo_extracts):
    frame = spark.table("bronze.h02_dongcheng__patients")
    assert {"patient_source_id", "id_number", "name", "sex", "民族"} <= set(frame.columns)
    row = frame.orderBy("_row_number").first()
    assert row["_source_id"] == "h02_dongcheng" and row["_row_number"] == 2
    assert len(row["_file_sha256"]) == 64 and row["_extract_date"].isoformat() == "2026-09-01"
    assert row["sex"] in {"男", "女"}  # GB18030 decoded, raw values kept for silver to standardise
    hl7 = spark.table("bronze.h04_nanhu_adt__messages")
    assert hl7.where("message_type LIKE 'ORU^R01%'").count() > 0
    assert hl7.where("observations_json IS NULL OR raw_message IS NULL").count() == 0


def _non_blank_lines(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip())


def _csv_records(path: Path) -> int:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


@pytest.mark.parametrize(
    "table, count_file",
    [
        ("bronze.sample_synthea__patients", lambda: _csv_records(SAMPLES / "synthea-3.0-27-patients/synthea_csv/patients.csv")),
        ("bronze.sample_synthea__claims_transactions", lambda: _csv_records(SAMPLES / "synthea-3.0-27-patients/synthea_csv/claims_transactions.csv")),
        ("bronze.sample_mimic3__encounters", lambda: _csv_records(SAMPLES / "mimic-iii-demo-1.4/ADMISSIONS.csv")),
        ("bronze.sample_mimic3__prescriptions", lambda: _csv_records(SAMPLES / "mimic-iii-demo-1.4/PRESCRIPTIONS.csv")),
        ("bronze.sample_fhir10__encounters", lambda: _non_blank_lines(SAMPLES / "fhir-r4-bulk-ndjson/10-patients/Encounter.000.ndjson")),
        ("bronze.sample_fhir100__patients", lambda: _non_blank_lines(SAMPLES / "fhir-r4-bulk-ndjson/100-patients/Patient.000.ndjson")),
        ("bronze.sample_hl7_converter__messages", lambda: len(list((SAMPLES / "hl7v2/fhir-converter/hl7v2").glob("*.hl7")))),
    ],
)
def test_real_samples_reach_bronze_whole(spark, demo_lake, table, count_file):
    assert spark.table(table).count() == count_file()


def test_malformed_real_hl7_is_quarantined_not_lost(spark, demo_lake):
    ledger = ledger_rows(spark, "sample_hl7_python")
    assert len(ledger) == len(list((SAMPLES / "hl7v2/python-hl7").glob("*.hl7")))
    assert all(r["rows_read"] == r["rows_bronze"] + r["rows_quarantined"] for r in ledger.values())
    assert ledger["sample_bad_file.hl7"]["status"] == "failed"
    assert "no MSH segment" in ledger["sample_bad_file.hl7"]["error"]
    assert ledger["sample_bad_file2.hl7"]["rows_quarantined"] >= 1
    quarantined = spark.table(QUARANTINE_TABLE).where("source_id = 'sample_hl7_python'").count()
    assert quarantined == sum(r["rows_quarantined"] for r in ledger.values()) > 0


def test_rerun_changes_nothing(spark, settings, registry, demo_lake):
    tables = [r.tableName for r in spark.sql("SHOW TABLES IN bronze").collect() if not r.isTemporary]
    versions = {t: spark.sql(f"DESCRIBE HISTORY bronze.{t} LIMIT 1").first()["version"] for t in tables}
    again = ingest(settings, registry, spark=spark)
    assert again.outcomes == [] and len(again.skipped) == len(demo_lake.outcomes) + len(demo_lake.skipped)
    after = {t: spark.sql(f"DESCRIBE HISTORY bronze.{t} LIMIT 1").first()["version"] for t in tables}
    assert after == versions


# ---------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def corrupted(spark, settings, tmp_path_factory):
    """A fixture set of broken extracts in every format, ingested once."""
    root = tmp_path_factory.mktemp("corrupted")
    day = "2026-10-05"
    folders = {name: root / name / day for name in ("csv", "gb", "fhir", "hl7")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    header = "PID,Name,Sex\n"
    (folders["csv"] / "truncated.csv").write_bytes((header + "1,Ann,F\n2,Bob,M\n3,\"Cy").encode())
    (folders["csv"] / "wrong_columns.csv").write_bytes((header + "1,Ann,F\n2,Bob\n3,Cy,M,extra\n4,Di,F\n").encode())
    (folders["csv"] / "bom.csv").write_bytes(b"\xef\xbb\xbf" + (header + "1,Ann,F\n").encode())
    (folders["csv"] / "nul.csv").write_bytes((header + "1,A\x00nn,F\n2,Bob,M\n").encode())
    (folders["csv"] / "empty.csv").write_bytes(b"")
    (folders["csv"] / "binary.csv").write_bytes(bytes(range(256)) * 8)
    gb_header = "患者编号,姓名,性别\n".encode("gb18030")
    (folders["gb"] / "invalid_bytes.csv").write_bytes(
        gb_header + "1,张三,男\n".encode("gb18030") + b"2,\x81\x20\xfe,F\n" + "3,李四,女\n".encode("gb18030")
    )
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female"}
    (folders["fhir"] / "Patient.ndjson").write_text(
        "\n".join([json.dumps(patient), '{"resourceType": "Patient", "id": ', "[1, 2]",
                   json.dumps({"resourceType": "Observation", "id": "o1"}), json.dumps({**patient, "id": "p2"})]) + "\n"
    )
    for name in ("sample_bad_batch1.hl7", "sample_bad_file.hl7", "sample_batch1.hl7"):
        shutil.copy(SAMPLES / "hl7v2/python-hl7" / name, folders["hl7"] / name)

    sources = [
        csv_source("fx_csv", root / "csv", columns={"PID": "patient_source_id", "Name": "name", "Sex": "sex"}),
        csv_source("fx_gb", root / "gb", columns={"患者编号": "patient_source_id", "姓名": "name", "性别": "sex"}, encoding="gb18030"),
        {"id": "fx_fhir", "name": "fx", "kind": "primary_care", "format": "fhir_ndjson",
         "entities": {"patients": {"path": f"{root}/fhir/{{date}}/Patient.ndjson", "resource_type": "Patient",
                                   "columns": {"id": "patient_source_id", "gender": "sex"}}}},
        {"id": "fx_hl7", "name": "fx", "kind": "hospital", "format": "hl7v2",
         "entities": {"messages": {"path": f"{root}/hl7/{{date}}/*.hl7"}}},
    ]
    registry = load_registry(settings, path=write_registry(root, sources))
    report = ingest(settings, registry, spark=spark)
    return report, registry, root


def test_every_corrupted_record_is_accounted_for(spark, corrupted):
    report, _, _ = corrupted
    assert report.balanced and len(report.outcomes) == 11
    ledger = {**ledger_rows(spark, "fx_csv"), **ledger_rows(spark, "fx_gb"), **ledger_rows(spark, "fx_fhir"), **ledger_rows(spark, "fx_hl7")}
    summary = {name: (r["status"], r["rows_read"], r["rows_bronze"], r["rows_quarantined"]) for name, r in ledger.items()}
    assert summary["truncated.csv"] == ("loaded", 3, 2, 1)
    assert summary["wrong_columns.csv"] == ("loaded", 4, 2, 2)
    assert summary["bom.csv"] == ("loaded", 1, 1, 0)
    assert summary["nul.csv"] == ("loaded", 2, 1, 1)
    assert summary["empty.csv"] == ("failed", 0, 0, 0)
    assert summary["binary.csv"][0] == "failed" and summary["binary.csv"][3] > 0
    assert summary["invalid_bytes.csv"] == ("loaded", 3, 2, 1)
    assert summary["Patient.ndjson"] == ("loaded", 5, 2, 3)
    assert summary["sample_bad_file.hl7"][0] == "failed"
    assert summary["sample_bad_batch1.hl7"][3] >= 1 and summary["sample_batch1.hl7"] == ("loaded", 2, 2, 0)
    assert ledger["empty.csv"]["error"] == "empty file"


def test_quarantine_names_file_row_and_reason(spark, corrupted):
    rows = quarantine_rows(spark, "fx_csv") + quarantine_rows(spark, "fx_gb") + quarantine_rows(spark, "fx_fhir")
    assert ("wrong_columns.csv", 3, "expected 3 fields, found 2") in rows
    assert ("wrong_columns.csv", 4, "expected 3 fields, found 4") in rows
    assert ("nul.csv", 2, "NUL byte in record") in rows
    assert ("invalid_bytes.csv", 3, "invalid bytes for encoding gb18030") in rows
    assert any(r[:2] == ("truncated.csv", 4) and r[2].startswith("expected 3 fields, found 2") for r in rows)
    fhir = [r for r in rows if r[0] == "Patient.ndjson"]
    assert [r[1] for r in fhir] == [2, 3, 4]
    assert fhir[0][2].startswith("invalid JSON") and fhir[1][2].startswith("not a JSON object")
    assert "Observation" in fhir[2][2]
    raw = spark.table(QUARANTINE_TABLE).where("source_id = 'fx_gb'").first()["raw_text"]
    assert "\\x81" in raw  # the bad bytes stay visible for whoever fixes the extract


def test_crash_before_the_ledger_write_does_not_duplicate(spark, settings, corrupted):
    _, registry, _ = corrupted
    before = spark.table("bronze.fx_csv__patients").count()
    # a crash after the bronze commit but before the ledger MERGE leaves the files unrecorded
    spark.sql(f"DELETE FROM {LEDGER_TABLE} WHERE source_id = 'fx_csv'")
    rerun = ingest(settings, registry, source_ids=["fx_csv"], spark=spark)
    assert len(rerun.outcomes) == 6 and rerun.balanced
    assert spark.table("bronze.fx_csv__patients").count() == before
    assert len(quarantine_rows(spark, "fx_csv")) == sum(o.rows_quarantined for o in rerun.outcomes)


# ---------------------------------------------------------------- new sources and drift


def test_new_hospital_by_yaml_alone(spark, settings, tmp_path):
    folder = tmp_path / "h99" / "2026-10-01"
    folder.mkdir(parents=True)
    text = "Patienten-Nr;Geburtsdatum;Geschlecht;Telefon\n991;07.03.1990;W;0151 123\n992;01.12.1985;M;\n"
    (folder / "export.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    entry = csv_source("h99_new", tmp_path / "h99", delimiter=";", date_format="%d.%m.%Y",
                       columns={"Patienten-Nr": "patient_source_id", "Geburtsdatum": "birth_date", "Geschlecht": "sex"})
    registry = load_registry(settings, path=write_registry(tmp_path, [entry]))
    report = ingest(settings, registry, spark=spark)
    assert report.balanced and report.totals()["rows_bronze"] == 2
    rows = spark.table("bronze.h99_new__patients").orderBy("patient_source_id").collect()
    assert [(r.patient_source_id, r.birth_date, r.sex, r.telefon) for r in rows] == [
        ("991", "07.03.1990", "W", "0151 123"), ("992", "01.12.1985", "M", None)
    ]


def test_schema_drift_is_added_and_missing_required_fails_clearly(spark, settings, tmp_path):
    base = tmp_path / "drift"
    days = {"2026-10-01": "PID,Name\n1,Ann\n", "2026-10-02": "PID,Name,Ward\n2,Bob,W3\n", "2026-10-03": "Name,Ward\nCy,W1\nDi,W2\n"}
    for day, content in days.items():
        (base / day).mkdir(parents=True)
        (base / day / "p.csv").write_text(content)
    entry = csv_source("fx_drift", base, columns={"PID": "patient_source_id", "Name": "name"})
    registry = load_registry(settings, path=write_registry(tmp_path, [entry]))
    first = ingest(settings, registry, date="2026-10-01", spark=spark)
    assert first.totals()["rows_bronze"] == 1 and first.drift == {}
    later = ingest(settings, registry, spark=spark)
    assert later.drift == {"fx_drift__patients": ["ward"]}
    assert "ward" in spark.table("bronze.fx_drift__patients").columns
    failed = {o.file.extract_date: o for o in later.failed}
    assert list(failed) == ["2026-10-03"]
    assert failed["2026-10-03"].error == "missing required column(s): patient_source_id (mapped from 'PID')"
    assert failed["2026-10-03"].rows_quarantined == 2 and later.balanced
    assert spark.table("bronze.fx_drift__patients").count() == 2


def test_cli_in_a_second_process_shares_the_catalog(spark, settings, corrupted, tmp_path):
    """While this session holds the catalog, a CLI process ingests too, and its exit code tells failure."""
    _, _, root = corrupted
    (root / "csv" / "2026-10-06").mkdir()
    (root / "csv" / "2026-10-06" / "late.csv").write_text("PID,Name,Sex\n7,Eve,F\n")
    (root / "csv" / "2026-10-06" / "no_pid.csv").write_text("Name,Sex\nZed,M\n")
    command = [sys.executable, "-m", "carelake", "ingest", "--registry", str(root / "sources.yml"),
               "--source", "fx_csv", "--date", "2026-10-06", "--fail-on-error"]
    proc = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no_pid.csv: missing required column(s): patient_source_id" in " ".join(proc.stdout.split())
    assert spark.table("bronze.fx_csv__patients").where("patient_source_id = '7'").count() == 1


def test_header_only_file_after_data_keeps_lineage_types(spark, settings, tmp_path):
    """A later day with only a header (nothing changed) must not disturb the table's schema."""
    base = tmp_path / "hdr"
    for day, content in {"2026-10-01": "PID,Name\n1,Ann\n", "2026-10-02": "PID,Name\n"}.items():
        (base / day).mkdir(parents=True)
        (base / day / "p.csv").write_text(content)
    entry = csv_source("fx_header_only", base, columns={"PID": "patient_source_id", "Name": "name"})
    registry = load_registry(settings, path=write_registry(tmp_path, [entry]))
    assert ingest(settings, registry, date="2026-10-01", spark=spark).totals()["rows_bronze"] == 1
    second = ingest(settings, registry, date="2026-10-02", spark=spark)
    assert second.balanced and second.totals()["skipped"] == 0
    assert [o.status for o in second.outcomes] == ["loaded"]
    schema = {f.name: f.dataType.simpleString() for f in spark.table("bronze.fx_header_only__patients").schema.fields}
    assert schema["_row_number"] == "bigint" and schema["_extract_date"] == "date"


def test_unchanged_snapshot_is_recorded_as_duplicate_not_reloaded(spark, settings, tmp_path):
    """A daily file with the same bytes as an earlier one: the ledger shows it arrived; bronze keeps one copy."""
    base = tmp_path / "snap"
    for day in ("2026-10-01", "2026-10-02"):
        (base / day).mkdir(parents=True)
        (base / day / "p.csv").write_text("PID,Name\n1,Ann\n2,Bob\n")
    entry = csv_source("fx_snapshot", base, columns={"PID": "patient_source_id", "Name": "name"})
    registry = load_registry(settings, path=write_registry(tmp_path, [entry]))
    first = ingest(settings, registry, spark=spark)
    assert sorted(o.status for o in first.outcomes) == ["duplicate", "loaded"] and first.balanced
    assert spark.table("bronze.fx_snapshot__patients").count() == 2
    ledger = spark.sql("select extract_date, status, rows_bronze from bronze.ingest_ledger where source_id = 'fx_snapshot'")
    assert sorted(tuple(r) for r in ledger.collect()) == [("2026-10-01", "loaded", 2), ("2026-10-02", "duplicate", 0)]
    again = ingest(settings, registry, spark=spark)
    assert again.outcomes == [] and len(again.skipped) == 2


@pytest.mark.parametrize("limit, commits", [({"ingest_slice_rows": 4}, 3), ({"ingest_slice_bytes": 1}, 5),
                                            ({"files_per_write": 2}, 3)], ids=["by_records", "by_bytes", "by_files"])
def test_a_large_batch_is_written_in_bounded_slices(spark, settings, tmp_path, monkeypatch, limit, commits):
    """Bronze writes hold at most ``ingest_slice_rows`` records (five 3-row files at 4 rows per slice are three
    commits: 3+3, 3+3, 3), ``ingest_slice_bytes`` of landed files (a file over it is a slice of its own: five
    commits) or ``FILES_PER_WRITE`` files (2: three commits; quarantine commits chunked alike); together they equal
    one write, every file's bad record is quarantined, the staged Parquet is gone, and a rerun changes nothing."""
    import carelake.ingest.runner as runner

    limit = dict(limit)
    source_id = f"fx_sliced_{next(iter(limit)).rsplit('_', 1)[-1]}"  # rows / bytes / write
    if "files_per_write" in limit:
        monkeypatch.setattr(runner, "FILES_PER_WRITE", limit.pop("files_per_write"))
    base = tmp_path / "sliced"
    for day in range(1, 6):
        (base / f"2026-10-0{day}").mkdir(parents=True)
        rows = "".join(f"{day}{n},P{day}{n}\n" for n in range(3))
        (base / f"2026-10-0{day}" / "p.csv").write_text("PID,Name\n" + rows + "bad,record,here\n")
    entry = csv_source(source_id, base, columns={"PID": "patient_source_id", "Name": "name"})
    registry = load_registry(settings, path=write_registry(tmp_path, [entry]))
    report = ingest(settings.with_(**limit), registry, spark=spark)
    assert report.balanced and report.totals()["rows_bronze"] == 15 and report.totals()["files"] == 5
    writes = spark.sql(f"DESCRIBE HISTORY bronze.{source_id}__patients").where("operation in ('WRITE', 'CREATE TABLE AS SELECT')")
    assert writes.count() == commits
    table = spark.table(f"bronze.{source_id}__patients")
    assert table.count() == 15 and table.select("_file_sha256").distinct().count() == 5
    assert sorted(r.name for r in table.collect()) == sorted(f"P{d}{n}" for d in range(1, 6) for n in range(3))
    assert {r.status for r in spark.sql(f"select status from bronze.ingest_ledger where source_id = '{source_id}'").collect()} == {"loaded"}
    assert not staging_folder(settings, report.batch_id).exists()
    assert spark.table(QUARANTINE_TABLE).where(f"source_id = '{source_id}'").count() == 5
    again = ingest(settings.with_(**limit), registry, spark=spark)
    assert again.outcomes == [] and len(again.skipped) == 5 and spark.table(f"bronze.{source_id}__patients").count() == 15
