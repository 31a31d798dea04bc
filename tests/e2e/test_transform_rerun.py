"""A daily load through the Airflow DAGs: ingest → transform → quality on one new day of extracts.

The session's demo lake holds ``days`` days of the demo generation. This module lands the next
day (the generator's follow-on day: newcomers, returning patients, discharges of earlier stays,
updates, master-data changes, defects) and runs the real DAGs in-process (``dag.test()``, real
Spark, Delta, dbt, GX): ``carelake_ingest`` on the day's data interval, ``carelake_transform``
(silver, MPI, gold) and ``carelake_quality``. It checks gold against a snapshot taken before (no
duplicates, ids stable, the day's rows arrive), the quality run the DAG recorded (a failed
critical rule marks the DAG run failed), that rerunning the same interval changes nothing, and
last that a ``--full-refresh`` of the incremental silver models gives what the merges gave.

It changes the demo lake, so it runs after every other test (``CHANGES_DEMO_LAKE``, see conftest).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, timedelta

import pytest
from conftest import DEMO_GENERATION, run_dag

CHANGES_DEMO_LAKE = True
NEXT_DATE = (date.fromisoformat(DEMO_GENERATION["start_date"]) + timedelta(days=DEMO_GENERATION["days"])).isoformat()
# gold clinical table -> (silver model feeding it, canonical entity, source key column); gold ids are
# the surrogate_id macro (transforms/macros/keys.sql) of (source_id, source key)
CLINICAL = {
    "visit_occurrence": ("int_encounters", "encounters", "encounter_source_id"),
    "condition_occurrence": ("int_diagnoses__mapped", "diagnoses", "diagnosis_source_id"),
    "drug_exposure": ("int_prescriptions__mapped", "prescriptions", "prescription_source_id"),
    "measurement": ("int_lab_results__mapped", "lab_results", "lab_result_source_id"),
}
# gold tables whose ids are values, not records: location_id is a region code, gone when its last patient moves away
VALUE_KEYED = {"location"}
GOLD_ID = {"visit_occurrence": "visit_occurrence_id", "condition_occurrence": "condition_occurrence_id",
           "drug_exposure": "drug_exposure_id", "measurement": "measurement_id"}


def surrogate(key_column: str) -> str:
    return f"pmod(xxhash64(source_id, {key_column}), 9223372036854775807)"


def read_truth(path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def dbt_manifest(settings) -> dict:
    from carelake.transform import dbt_home

    return json.loads((dbt_home(settings) / "target" / "manifest.json").read_text())


def gold_unique_keys(settings) -> dict[str, list[str]]:
    """gold table -> its columns with a dbt ``unique`` test (the tables' keys as the project declares them)."""
    manifest = dbt_manifest(settings)
    keys: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and (node.get("test_metadata") or {}).get("name") == "unique":
            model = manifest["nodes"].get(node.get("attached_node") or "", {})
            if model.get("schema") == "gold" and node.get("column_name"):
                keys.setdefault(model["name"], []).append(node["column_name"])
    return keys


def incremental_models(settings) -> list[str]:
    return sorted(n["name"] for n in dbt_manifest(settings)["nodes"].values()
                  if n["resource_type"] == "model" and n["config"].get("materialized") == "incremental")


def staged_keys(spark, entity: str, key: str) -> dict[str, set[tuple]]:
    """{"before": keys staged from files before NEXT_DATE, "next": keys in NEXT_DATE's files} over every staging view."""
    views = [t.name for t in spark.catalog.listTables("silver") if t.name.startswith("stg_") and t.name.endswith(f"__{entity}")]
    union = " union all ".join(f"select source_id, {key} as k, cast(_extract_date as string) as d from silver.{v}" for v in views)
    rows = spark.sql(f"select distinct source_id, k, d = '{NEXT_DATE}' as is_next from ({union}) where k is not null").collect()
    return {"before": {(r.source_id, r.k) for r in rows if not r.is_next}, "next": {(r.source_id, r.k) for r in rows if r.is_next}}


def snapshot(spark, settings) -> dict:
    """What gold and the MPI say now: ids per source record, keys and row counts."""
    snap = {
        "person_of": {(r.source_id, r.patient_source_id): r.person_id for r in spark.table("silver.mpi_person_map").collect()},
        "merges": {(r.old_person_id, r.person_id) for r in spark.table("silver.mpi_person_map_merges").collect()}
        if spark.catalog.tableExists("silver.mpi_person_map_merges") else set(),
        "gold_ids": {}, "gold_person": {}, "silver_keys": {}, "counts": {},
    }
    for table, (model, _entity, key) in CLINICAL.items():
        snap["silver_keys"][table] = {(r.source_id, r.k) for r in spark.sql(f"select source_id, {key} as k from silver.{model}").collect()}
        snap["gold_person"][table] = {r[0]: r[1] for r in spark.sql(f"select {GOLD_ID[table]}, person_id from gold.{table}").collect()}
    for table, columns in gold_unique_keys(settings).items():
        snap["counts"][table] = spark.table(f"gold.{table}").count()
        snap["gold_ids"][table] = {c: {r[0] for r in spark.sql(f"select distinct {c} from gold.{table}").collect()} for c in columns}
    return snap


def bronze_versions(spark) -> dict[str, int]:
    return {t.name: spark.sql(f"DESCRIBE HISTORY bronze.{t.name} LIMIT 1").first()["version"]
            for t in spark.catalog.listTables("bronze") if not t.isTemporary}


@pytest.fixture(scope="module")
def rerun(spark, settings, demo_extracts, gold, airflow_dags):
    """Snapshot, land the next day, run the ingest, transform and quality DAGs, then the ingest DAG again."""
    from carelake.generate import generate

    before = snapshot(spark, settings)
    truth_before = read_truth(demo_extracts.truth_dir / "persons.csv")
    landed = generate(settings.landing_root, **DEMO_GENERATION, follow_on_days=1, only_dates=[NEXT_DATE])
    runs = {"ingest": run_dag(airflow_dags, "carelake_ingest", NEXT_DATE)}
    runs["transform"] = run_dag(airflow_dags, "carelake_transform")
    after = snapshot(spark, settings)
    runs["quality"] = run_dag(airflow_dags, "carelake_quality")
    ledger, versions = spark.table("bronze.ingest_ledger").count(), bronze_versions(spark)
    runs["ingest_again"] = run_dag(airflow_dags, "carelake_ingest", NEXT_DATE)
    return {"before": before, "after": after, "truth_before": truth_before, "runs": runs,
            "truth_after": read_truth(landed.truth_dir / "persons.csv"),
            "new_files": [f for f in landed.files if f.extract_date == NEXT_DATE],
            # a PACS lands one DICOM file per instance (imaging truth), planted bad ones included
            "new_images": [r for name in ("imaging.csv", "imaging_bad_files.csv")
                           for r in read_truth(landed.truth_dir / name) if r["extract_date"] == NEXT_DATE],
            "ledger_rows": (ledger, spark.table("bronze.ingest_ledger").count()),
            "bronze_versions": (versions, bronze_versions(spark))}


def test_the_dags_ran(rerun):
    runs = rerun["runs"]
    assert {k: runs[k].state for k in ("ingest", "transform", "ingest_again")} == dict.fromkeys(
        ("ingest", "transform", "ingest_again"), "success")


def test_the_next_day_is_landed_and_ingested(rerun, spark):
    new_files = rerun["new_files"]
    assert {f.source_id for f in new_files} >= {"h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt"}
    ledger = spark.sql(f"select file_path, status, rows_read from bronze.ingest_ledger where extract_date = '{NEXT_DATE}'").collect()
    images = rerun["new_images"]
    assert len(ledger) == len(new_files) + len(images), [r.file_path for r in ledger]
    for image in images:  # one record per DICOM file: bronze, or quarantine for a planted bad file
        row = next((r for r in ledger if r.file_path.endswith(image["file"])), None)
        assert row is not None and row.rows_read == 1, (image["file"], row)
        assert row.status == ("failed" if image.get("defect") else "loaded"), (image["file"], row)
    for f in new_files:  # every file of the day in the ledger; a loaded one with all its records
        row = next((r for r in ledger if r.file_path.endswith(f.file)), None)
        assert row is not None and row.status in ("loaded", "duplicate"), (f.file, row)
        assert row.status == "duplicate" or row.rows_read == f.records, (f.file, row)


def test_rerunning_the_interval_changes_nothing(rerun):
    before, after = rerun["ledger_rows"]
    assert after == before
    versions_before, versions_after = rerun["bronze_versions"]
    assert versions_after == versions_before


def test_the_quality_dag_records_its_run_and_fails_exactly_on_critical_rules(rerun, spark):
    from carelake.orchestration import quality_run_id
    from carelake.quality.scores import ALL_SOURCES

    run = rerun["runs"]["quality"]
    run_id = quality_run_id(run.run_id)
    results = spark.sql(f"select status, severity, rule_id, source_id from quality.results where run_id = '{run_id}'").collect()
    assert results and {r.status for r in results} <= {"passed", "passed_with_failed_rows", "failed"}
    critical = {(r.rule_id, r.source_id) for r in results if r.status == "failed" and r.severity == "critical"}
    assert run.state == ("failed" if critical else "success"), (run.state, sorted(critical)[:5])
    assert spark.sql(f"select count(*) from quality.scores where run_id = '{run_id}'").first()[0] > 0
    assert any(r.source_id for r in results if r.status != "passed")  # the generated day has injected defects
    breached = {tuple(r) for r in spark.sql(  # every breached score of the run has its alert (raised now or before)
        "select source_id, dimension, concat('score:', period_type), period_start from quality.scores "
        f"where run_id = '{run_id}' and breached and source_id != '{ALL_SOURCES}'").collect()}
    alerted = {tuple(r) for r in spark.sql(
        "select source_id, dimension, metric, data_date from quality.alerts where kind = 'threshold'").collect()}
    assert breached and breached <= alerted, sorted(breached - alerted)[:5]
    reads = spark.sql("select details from audit.access_log where action = 'dag_read'").collect()
    assert any(run_id in (r.details or "") for r in reads)  # the DAG's read of silver and gold is in the audit log


def test_gold_has_no_duplicate_keys(rerun, spark, settings):
    keys = gold_unique_keys(settings)
    assert set(CLINICAL) | {"person"} <= set(keys)
    for table, columns in keys.items():
        for column in columns:
            duplicated = spark.sql(f"select {column} from gold.{table} where {column} is not null "
                                   f"group by {column} having count(*) > 1 limit 5").collect()
            assert not duplicated, f"gold.{table}.{column} repeats {[r[0] for r in duplicated]}"


def test_existing_ids_do_not_change(rerun):
    before, after = rerun["before"], rerun["after"]
    merged_now = dict(after["merges"] - before["merges"])  # old person id -> surviving id, merges of this run only
    moved = {k: (p, after["person_of"].get(k)) for k, p in before["person_of"].items()
             if after["person_of"].get(k) != merged_now.get(p, p)}
    assert not moved, f"source patients whose person_id changed: {list(moved.items())[:5]}"
    for table, ids in before["gold_ids"].items():
        if table in VALUE_KEYED:
            continue
        for column, values in ids.items():
            lost = values - after["gold_ids"][table][column] - set(merged_now)
            assert not lost, f"gold.{table}.{column}: {len(lost)} ids gone, e.g. {sorted(lost)[:5]}"
    for table, person_of in before["gold_person"].items():
        changed = {i: (p, after["gold_person"][table].get(i)) for i, p in person_of.items()
                   if after["gold_person"][table].get(i) != merged_now.get(p, p)}
        assert not changed, f"gold.{table}: rows whose id or person changed: {list(changed.items())[:5]}"


def test_the_new_day_rows_reach_gold(rerun, spark):
    before, after = rerun["before"], rerun["after"]
    for table, (_model, entity, key) in CLINICAL.items():
        staged = staged_keys(spark, entity, key)
        new_keys = staged["next"] - staged["before"]
        assert after["silver_keys"][table] - before["silver_keys"][table] == new_keys, table
        assert new_keys or table != "visit_occurrence", "the next day brings no visits"
        assert after["counts"][table] == before["counts"][table] + len(new_keys), table
        if new_keys:
            values = ", ".join(f"('{s}', '{k}')" for s, k in new_keys)
            ids = {r[0] for r in spark.sql(f"select {surrogate('k')} from (select col1 as source_id, col2 as k from values {values})").collect()}
            assert ids <= set(after["gold_person"][table]) and not ids & set(before["gold_person"][table]), table


def test_first_seen_persons_get_new_ids_and_returning_persons_keep_theirs(rerun):
    before, after = rerun["before"], rerun["after"]
    known = {(p["source_id"], p["patient_source_id"]) for p in rerun["truth_before"]}
    person_ids_of_key: dict[str, set[int]] = {}
    for p in rerun["truth_before"]:
        person_ids_of_key.setdefault(p["person_key"], set()).add(before["person_of"][(p["source_id"], p["patient_source_id"])])
    newcomers = [p for p in rerun["truth_after"] if (p["source_id"], p["patient_source_id"]) not in known]
    first_seen = [p for p in newcomers if p["person_key"] not in person_ids_of_key]
    known_elsewhere = [p for p in newcomers if p["person_key"] in person_ids_of_key]
    assert first_seen and known_elsewhere, (len(first_seen), len(known_elsewhere))
    issued = max(before["person_of"].values())
    new_ids = [after["person_of"][(p["source_id"], p["patient_source_id"])] for p in first_seen]
    assert min(new_ids) > issued and len(set(new_ids)) == len({p["person_key"] for p in first_seen})
    for p in known_elsewhere:  # registered at one more hospital: linked to the person the lake already knows
        assert after["person_of"][(p["source_id"], p["patient_source_id"])] in person_ids_of_key[p["person_key"]], p
    assert all(after["person_of"][k] == before["person_of"][k] for k in known)  # returning records keep their person
    assert len(after["person_of"]) == len(before["person_of"]) + len(newcomers)


def test_full_refresh_rebuilds_the_incremental_models_identically(rerun, spark, settings):
    from carelake.transform import run_dbt

    models = incremental_models(settings)
    assert {"int_encounters", "int_patients"} <= set(models)
    merged = {m: Counter(tuple(r) for r in spark.table(f"silver.{m}").collect()) for m in models}
    result = run_dbt(["run", "--select", *models, "--full-refresh"], settings)
    assert result.success, result.summary()
    for model in models:
        spark.sql(f"refresh table silver.{model}")
        rebuilt = Counter(tuple(r) for r in spark.table(f"silver.{model}").collect())
        assert rebuilt == merged[model], f"{model}: {sum((rebuilt - merged[model]).values())} rows only after the full refresh, " \
                                         f"{sum((merged[model] - rebuilt).values())} only after the merges"
