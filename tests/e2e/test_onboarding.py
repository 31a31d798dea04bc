"""A hospital onboarded by configuration only flows through ingest, silver, the MPI and gold.

The session fixture ``onboarded_source`` (tests/conftest.py) writes the new hospital's files
(tests/onboarding_hospital.py: UTF-8 BOM, ';', dd.MM.yyyy, embedded newlines, one malformed record) into the
demo landing and its reviewed `suggest` entry into the demo registry before the demo ingest, so the one demo
silver/gold build carries it: no staging model is written in the repository, no code changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from onboarding_hospital import EXPECTED_MAPPING, SOURCE_ID

REPO = Path(__file__).resolve().parents[2]


def test_suggest_maps_the_new_hospital(onboarded_source):
    proposal = onboarded_source.proposal
    assert {e.entity for e in proposal.entities} == set(EXPECTED_MAPPING)
    expected = [(entity, column, target) for entity, mapping in EXPECTED_MAPPING.items() for column, target in mapping.items()]
    got = proposal.mapping()
    right = sum(1 for entity, column, target in expected if got[entity].get(column) == target)
    assert right / len(expected) >= 0.9, got
    csv_options = onboarded_source.entry["csv"]
    assert (csv_options["encoding"], csv_options["delimiter"], csv_options["date_format"]) == ("utf-8", ";", "%d.%m.%Y")
    assert csv_options["datetime_format"] == "%d.%m.%Y %H:%M"


def test_check_is_a_dry_run_that_passes(spark, settings, demo_lake, onboarded_source):
    ledger_before = spark.table("bronze.ingest_ledger").count()
    quarantine_before = spark.table("bronze.quarantine").count()
    proc = subprocess.run([sys.executable, "-m", "carelake", "sources", "check", SOURCE_ID], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = sum(onboarded_source.written.records().values())
    assert f"{records} record(s): {records - 1} -> bronze, 1 -> quarantine; OK" in " ".join(proc.stdout.split())
    assert spark.table("bronze.ingest_ledger").count() == ledger_before
    assert spark.table("bronze.quarantine").count() == quarantine_before


def test_every_record_is_accounted_for(spark, demo_lake, onboarded_source):
    written = onboarded_source.written
    ledger = {r.entity: r for r in spark.table("bronze.ingest_ledger").where(f"source_id = '{SOURCE_ID}'").collect()}
    assert {e: (r.status, r.rows_read) for e, r in ledger.items()} == {e: ("loaded", n) for e, n in written.records().items()}
    assert all(r.rows_read == r.rows_bronze + r.rows_quarantined for r in ledger.values())
    quarantined = spark.table("bronze.quarantine").where(f"source_id = '{SOURCE_ID}'").collect()
    assert [(q.entity, q.raw_text.split(";")[0], q.reason) for q in quarantined] == [
        ("encounters", written.rejected_visits[0], "expected 8 fields, found 9")]
    bronze = {e: spark.table(f"bronze.{SOURCE_ID}__{e}") for e in written.records()}
    assert sorted(r[0] for r in bronze["encounters"].select("encounter_source_id").collect()) == sorted(written.encounters)
    assert bronze["diagnoses"].where("diagnosis_name like '%\n%'").count() > 0  # embedded newlines kept in the value


def test_the_new_hospital_reaches_silver_mpi_and_gold(spark, settings, gold, onboarded_source):
    from pyspark.sql import functions as F

    written = onboarded_source.written
    assert not (REPO / "transforms" / "models" / "staging" / SOURCE_ID).exists()  # nothing committed for it
    generated = settings.lake_root / "_dbt" / "onboarded_models" / "staging" / SOURCE_ID
    assert sorted(p.name for p in generated.glob("stg_*.sql")) == sorted(f"stg_{SOURCE_ID}__{e}.sql" for e in written.records())

    # silver: its day-first dates and times parsed (no nulls where the file has values)
    patients = spark.table("silver.int_patients").where(f"source_id = '{SOURCE_ID}'")
    assert patients.count() == len(written.patients) and patients.where("birth_date is null").count() == 0
    encounters = spark.table("silver.int_encounters").where(f"source_id = '{SOURCE_ID}'")
    assert encounters.count() == len(written.encounters) and encounters.where("admit_time is null").count() == 0

    # MPI and gold
    persons = {r.person_id for r in spark.table("silver.mpi_person_map").where(f"source_id = '{SOURCE_ID}'").collect()}
    assert spark.table("silver.mpi_person_map").where(f"source_id = '{SOURCE_ID}'").count() == len(written.patients)
    in_gold = spark.table("gold.person").where(F.col("person_id").isin(list(persons))).count()
    assert in_gold == len(persons) > 0
    visits = spark.table("gold.visit_occurrence").where(f"_source_id = '{SOURCE_ID}'")
    assert visits.count() == len(written.encounters) and visits.where("visit_start_datetime is null").count() == 0
    conditions = spark.table("gold.condition_occurrence").where(f"_source_id = '{SOURCE_ID}'")
    assert conditions.count() == len(written.diagnoses)
    assert conditions.where("visit_occurrence_id is null").count() == 0
    assert conditions.where("condition_concept_id = 0").count() < conditions.count()  # its ICD-10 codes map
    organisations = {r.source_id: r.organization_code for r in spark.table("silver.source_organisations").collect()}
    assert organisations[SOURCE_ID] == onboarded_source.entry["organization"]


def test_the_new_hospital_is_scored_by_the_quality_rules(spark, quality_run, onboarded_source):
    from carelake.quality import tables as qt

    run = f"run_id = '{quality_run.run_id}' AND source_id = '{SOURCE_ID}'"
    rules = spark.table(qt.RESULTS).where(f"{run} AND level = 'rule'")
    assert rules.where("table_name like 'stg_%'").count() > 0
    assert {r.organization for r in rules.select("organization").distinct().collect()} == {onboarded_source.entry["organization"]}
    scores = spark.table(qt.SCORES).where(run).collect()
    assert {s.dimension for s in scores} >= {"completeness", "accuracy"} and all(0 <= s.score <= 100 for s in scores)
