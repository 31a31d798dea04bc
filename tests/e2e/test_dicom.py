"""DICOM metadata end to end on the demo lake: the generated PACS exports and pydicom's own test files land in bronze
or quarantine (nothing lost), studies and series reach silver linked to person and visit, gold holds them as
IMAGE_OCCURRENCE and PROCEDURE_OCCURRENCE rows, and no patient name or id from a DICOM header reaches gold."""

from __future__ import annotations

import csv

import pytest

from carelake.ingest.tables import LEDGER_TABLE, QUARANTINE_TABLE
from carelake.registry import pydicom_data_dir

PACS = ("h01_riverside_pacs", "h02_dongcheng_pacs", "h04_nanhu_pacs")
IN_PACS = "source_id in ('" + "', '".join(PACS) + "')"
FROM_PACS = "_" + IN_PACS  # gold tables name the source in the lineage column _source_id


def _truth(demo_extracts, name: str) -> list[dict]:
    with (demo_extracts.truth_dir / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def images(demo_extracts) -> list[dict]:
    return _truth(demo_extracts, "imaging.csv")


def _ledger(spark, where: str) -> dict[str, object]:
    return {r.file_path: r for r in spark.table(LEDGER_TABLE).where(where).collect()}


def _quarantined(spark, where: str) -> dict[str, str]:
    return {r.file_path: r.reason for r in spark.table(QUARANTINE_TABLE).where(where).collect()}


def test_pacs_files_reach_bronze_exactly_and_planted_bad_files_are_quarantined(spark, demo_lake, demo_extracts, images):
    out = demo_extracts.out_dir
    bad = _truth(demo_extracts, "imaging_bad_files.csv")
    assert len(images) > 100 and {i["source_id"] for i in images} == set(PACS)
    for source in PACS:
        expected = {i["sop_instance_uid"]: i for i in images if i["source_id"] == source}
        rows = spark.table(f"bronze.{source}__imaging_instances").select(
            "sop_instance_uid", "study_instance_uid", "accession_number", "_source_file", "_extract_date").collect()
        assert len(rows) == len(expected), source
        for row in rows:
            image = expected[row.sop_instance_uid]
            assert (row.study_instance_uid, row.accession_number, row._source_file, str(row._extract_date)) == (
                image["study_instance_uid"], image["encounter_source_id"], str(out / image["file"]), image["extract_date"])
    quarantined = _quarantined(spark, IN_PACS)
    assert set(quarantined) == {str(out / b["file"]) for b in bad}
    for b in bad:
        expected_reason = "not a DICOM Part 10 file" if b["defect"] == "not_dicom" else "truncated DICOM file: element (0020,000D)"
        assert quarantined[str(out / b["file"])].startswith(expected_reason), b
    ledger = _ledger(spark, IN_PACS)
    assert len(ledger) == len(images) + len(bad)
    assert all(r.rows_read == r.rows_bronze + r.rows_quarantined == 1 for r in ledger.values())
    assert sorted(r.status for r in ledger.values() if r.status != "loaded") == ["failed"] * len(bad)


def test_every_pydicom_test_file_ends_in_bronze_or_quarantine(spark, demo_lake):
    on_disk = {str(p) for p in pydicom_data_dir().glob("*_files/**/*") if p.is_file()}
    ledger = _ledger(spark, "source_id = 'sample_pydicom'")
    assert set(ledger) == on_disk
    assert all(r.rows_read == r.rows_bronze + r.rows_quarantined == (0 if r.status == "duplicate" else 1) for r in ledger.values())
    in_bronze = {r._source_file for r in spark.table("bronze.sample_pydicom__imaging_instances").select("_source_file").collect()}
    quarantined = _quarantined(spark, "source_id = 'sample_pydicom'")
    duplicates = {path for path, r in ledger.items() if r.status == "duplicate"}  # same bytes as a file loaded
    assert not in_bronze & set(quarantined) and in_bronze | set(quarantined) | duplicates == on_disk
    loaded_content = {ledger[path].file_sha256 for path in in_bronze}
    assert all(ledger[path].file_sha256 in loaded_content for path in duplicates)
    assert len(in_bronze) > 150 and all(quarantined.values())
    data = pydicom_data_dir()
    assert quarantined[str(data / "test_files" / "MR_truncated.dcm")].startswith("truncated DICOM file: pixel data ends")
    assert quarantined[str(data / "test_files" / "README.txt")].startswith("not a DICOM Part 10 file")
    names = {r.patient_name for r in spark.table("bronze.sample_pydicom__imaging_instances").collect()}
    assert {"Wang^XiaoDong=王^小东", "Yamada^Tarou=山田^太郎=やまだ^たろう", "Διονυσιος"} <= names


def test_silver_studies_and_series_are_linked_to_person_and_visit(spark, gold, images):
    studies = {(i["source_id"], i["study_instance_uid"]): i for i in images}
    rows = spark.sql(f"""
        select s.source_id, s.study_instance_uid, s.encounter_source_id, s.instance_count, m.person_id
        from silver.int_imaging_studies s
        left join silver.mpi_person_map m on m.source_id = s.patient_record_source_id and m.patient_source_id = s.patient_source_id
        where s.{IN_PACS}""").collect()
    assert {(r.source_id, r.study_instance_uid) for r in rows} == set(studies)
    assert [r for r in rows if r.person_id is None] == []
    assert all(r.encounter_source_id == studies[(r.source_id, r.study_instance_uid)]["encounter_source_id"] for r in rows)
    assert sum(r.instance_count for r in rows) == len(images)
    series = spark.table("silver.int_imaging_series").where(IN_PACS).select("source_id", "series_instance_uid").collect()
    assert {tuple(r) for r in series} == {(i["source_id"], i["series_instance_uid"]) for i in images}


def test_gold_image_occurrence_and_procedures_resolve_person_and_visit(spark, gold, images):
    series = {(i["source_id"], i["series_instance_uid"]) for i in images}
    studies = {(i["source_id"], i["study_instance_uid"]) for i in images}
    rows = spark.table("gold.image_occurrence").where(FROM_PACS).collect()
    assert {(r._source_id, r.image_series_uid) for r in rows} == series and len(rows) == len(series)
    assert all(r.visit_occurrence_id is not None and r.wadors_uri.endswith(r.image_series_uid) for r in rows)
    unresolved = spark.sql("""
        select i.image_occurrence_id from gold.image_occurrence i
        left join gold.person p on p.person_id = i.person_id
        left join gold.visit_occurrence v on v.visit_occurrence_id = i.visit_occurrence_id and v.person_id = i.person_id
        left join gold.procedure_occurrence o on o.procedure_occurrence_id = i.procedure_occurrence_id
            and o.person_id = i.person_id and o.visit_occurrence_id <=> i.visit_occurrence_id
        where p.person_id is null or v.visit_occurrence_id is null or o.procedure_occurrence_id is null""").collect()
    assert unresolved == []
    procedures = spark.table("gold.procedure_occurrence").where(FROM_PACS).select("_source_id", "procedure_source_value")
    assert procedures.count() == len(studies)
    assert {r.procedure_source_value.split(" ")[0] for r in procedures.collect()} <= {"CT", "MR", "DX", "US"}


def test_no_patient_name_or_id_from_dicom_reaches_gold(spark, gold, images):
    from pyspark.sql import functions as F

    identities = {i["patient_source_id"] for i in images} | {i["patient_name"] for i in images}
    identities |= {i["patient_name"].replace("^", "") for i in images}  # the name without DICOM component separators
    identities |= {r.patient_name for r in spark.table("bronze.sample_pydicom__imaging_instances").collect() if r.patient_name}
    # a doctor may share a patient's name: staff names in gold (provider names) are not patient identifiers
    staff = {r.name for t in spark.sql("show tables in bronze like '*__doctors'").collect()
             if "name" in spark.table(f"bronze.{t.tableName}").columns
             for r in spark.table(f"bronze.{t.tableName}").select("name").distinct().collect() if r.name}
    identities -= staff
    leaks = []
    tables = [r.tableName for r in spark.sql("show tables in gold").collect() if not r.isTemporary]
    assert "image_occurrence" in tables
    for table in tables:
        frame = spark.table(f"gold.{table}")
        strings = [f.name for f in frame.schema.fields if f.dataType.simpleString() == "string"]
        if strings:
            values = frame.select(F.explode(F.array(*[F.col(c) for c in strings])).alias("v")).where(F.col("v").isin(list(identities)))
            leaks += [(table, r.v) for r in values.limit(5).collect()]
    assert leaks == [], f"DICOM patient identities in gold, e.g. {leaks[:5]}"
