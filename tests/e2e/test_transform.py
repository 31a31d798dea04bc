"""Silver and gold with dbt (transforms/) end to end: one silver build, the MPI, one gold build.

dbt runs in its own process (carelake.transform.run_dbt); it shares the catalog with this test's
Spark session through the Derby network server, so the tables it writes are read here.
"""

from __future__ import annotations

import csv
from pathlib import Path


SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "reference" / "omop-cdm-5.4" / "csv" / "OMOP_CDMv5.4_Field_Level.csv"
OMOP_TABLES = (
    "person", "observation_period", "visit_occurrence", "condition_occurrence", "drug_exposure", "measurement",
    "observation", "death", "location", "care_site", "provider", "cdm_source", "concept", "source_to_concept_map",
    "procedure_occurrence", "note",
)
GENERATED_PATIENT_SOURCES = ("h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt")
GENERATED_SOURCES = (*GENERATED_PATIENT_SOURCES, "h04_nanhu_his")  # the samples: tests/e2e/test_transform_samples.py
# OMOP spec type -> Spark types accepted for it (ids may be bigint: person_id comes from the MPI as bigint)
COMPATIBLE = {
    "integer": {"int", "bigint", "smallint"},
    "float": {"double", "float", "decimal"},
    "date": {"date"},
    "datetime": {"timestamp", "timestamp_ntz"},
    "varchar": {"string", "varchar", "char"},
}


def spec_columns() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    with SPEC.open(encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["cdmTableName"].lower(), []).append(row)
    return out


def spark_type_family(simple: str) -> str:
    return simple.split("(")[0].lower()


def spec_type_family(cdm_type: str) -> str:
    t = cdm_type.lower()
    return "varchar" if t.startswith("varchar") else t


def test_silver_builds_models_and_tests(silver):
    counts = silver.counts()
    assert counts["model"].get("success", 0) >= 40
    assert counts["seed"].get("success", 0) >= 8
    assert counts["test"].get("pass", 0) > 50 and not silver.failures()


def test_mpi_contract_columns(spark, silver):
    schema = {f.name: f.dataType.simpleString() for f in spark.table("silver.int_patients__unioned").schema.fields}
    assert schema == {
        "source_id": "string", "patient_source_id": "string", "id_number": "string", "name": "string",
        "sex": "string", "birth_date": "date", "phone": "string", "address": "string",
        "region_code": "string", "updated_at": "timestamp",
    }
    bad = spark.sql(r"""
        select * from silver.int_patients__unioned
        where id_number rlike '[\\s\\-a-z]' or phone rlike '[^0-9]' or sex not in ('M', 'F', 'U')
           or (phone like '86%' and length(phone) = 13)
    """).count()
    assert bad == 0


def test_silver_keeps_one_row_per_source_patient(spark, silver):
    for source_id in GENERATED_PATIENT_SOURCES:
        bronze_table = f"bronze.{source_id}__messages" if source_id == "h04_nanhu_adt" else f"bronze.{source_id}__patients"
        bronze = spark.sql(f"select count(distinct trim(patient_source_id)) from {bronze_table} where patient_source_id is not null").first()[0]
        silver = spark.sql(f"select count(*) from silver.int_patients__unioned where source_id = '{source_id}'").first()[0]
        assert silver == bronze, source_id


def test_times_are_utc(spark, silver):
    # h01 writes local Asia/Shanghai wall-clock times; FHIR (h03) carries +08:00: both land as UTC
    bronze = spark.table("bronze.h01_riverside__encounters").where("admit_time is not null").select("encounter_source_id", "admit_time").first()
    silver_row = spark.sql(
        f"select admit_time from silver.stg_h01_riverside__encounters where encounter_source_id = '{bronze.encounter_source_id}' limit 1"
    ).first()
    local = spark.sql(f"select to_timestamp(replace('{bronze.admit_time}', 'T', ' '))").first()[0]
    assert (local - silver_row.admit_time).total_seconds() == 8 * 3600


def test_gold_tables_conform_to_omop_cdm_54(spark, gold):
    spec = spec_columns()
    problems = []
    for table in OMOP_TABLES:
        df = spark.table(f"gold.{table}")
        types = {f.name: spark_type_family(f.dataType.simpleString()) for f in df.schema.fields}
        required = []
        for field in spec[table]:
            name = field["cdmFieldName"]
            if name not in types:
                problems.append(f"{table}.{name} missing")
                continue
            family = spec_type_family(field["cdmDatatype"])
            if types[name] not in COMPATIBLE[family]:
                problems.append(f"{table}.{name} is {types[name]}, spec {field['cdmDatatype']}")
            if field["isRequired"] == "Yes":
                required.append(name)
        if required:
            nulls = df.selectExpr(*[f"count_if({c} is null) as `{c}`" for c in required]).first().asDict()
            problems += [f"{table}.{c}: {n} nulls in a required field" for c, n in nulls.items() if n]
    assert not problems, "\n".join(problems)
    for table in ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "measurement", "concept"):
        assert spark.table(f"gold.{table}").count() > 0, table


def test_every_bronze_patient_reaches_exactly_one_person(spark, gold):
    spark.sql("""
        select distinct _source_id as source_id, trim(patient_source_id) as patient_source_id
        from bronze.h01_riverside__patients union
        select distinct _source_id, trim(patient_source_id) from bronze.h02_dongcheng__patients union
        select distinct _source_id, trim(patient_source_id) from bronze.h03_xishan_chc__patients union
        select distinct _source_id, trim(patient_source_id) from bronze.h04_nanhu_adt__messages where patient_source_id is not null
    """).createOrReplaceTempView("bronze_patients")
    row = spark.sql("""
        select count(*) as patients,
               count_if(n = 0) as unlinked,
               count_if(n > 1) as multiply_linked,
               count_if(n = 1 and not in_person) as linked_but_not_in_person
        from (
            select b.source_id, b.patient_source_id, count(m.person_id) as n,
                   bool_or(p.person_id is not null) as in_person
            from bronze_patients b
            left join silver.mpi_person_map m
                on m.source_id = b.source_id and m.patient_source_id = b.patient_source_id
            left join gold.person p on p.person_id = m.person_id
            group by b.source_id, b.patient_source_id
        )
    """).first()
    expected = spark.sql(
        "select count(*) from silver.int_patients__unioned where source_id in ('" + "', '".join(GENERATED_PATIENT_SOURCES) + "')"
    ).first()[0]
    assert row.patients == expected > 0
    assert row.unlinked == 0 and row.multiply_linked == 0
    # persons without any birth year (no birth date and no resident ID) are left out of PERSON by convention
    assert row.linked_but_not_in_person <= row.patients * 0.01


def test_gold_person_ids_exist(spark, gold):
    for table in ("visit_occurrence", "condition_occurrence", "drug_exposure", "measurement", "observation", "death", "observation_period"):
        orphans = spark.sql(f"select count(*) from gold.{table} t left anti join gold.person p on p.person_id = t.person_id").first()[0]
        assert orphans == 0, table


def test_mapping_coverage_numbers(spark, gold):
    coverage = {(r.source_id, r.domain): r for r in spark.table("gold.mapping_coverage").collect()}
    # every silver diagnosis / lab / prescription counted once
    for domain, model in (("condition", "int_diagnoses"), ("measurement", "int_lab_results"), ("drug", "int_prescriptions")):
        expected = {r[0]: r[1] for r in spark.sql(f"select source_id, count(*) from silver.{model} group by source_id").collect()}
        got = {s: r.total_records for (s, d), r in coverage.items() if d == domain}
        assert got == expected, domain
    for (source_id, domain), r in coverage.items():
        assert r.mapped_records + r.unmapped_records == r.total_records
    # valid ICD-10 codes of the generator are all in the seed; only injected invalid codes stay unmapped
    from carelake.generate.reference import INVALID_DIAGNOSIS_CODES

    unmapped = {c for (s, d), r in coverage.items() if d == "condition" and s in GENERATED_SOURCES for c in r.unmapped_code_examples}
    assert unmapped <= {c.upper() for c in INVALID_DIAGNOSIS_CODES}
    # h02's local lab codes map through metadata/mappings/local_lab_codes.csv: all measurements mapped
    assert coverage[("h02_dongcheng", "measurement")].unmapped_records == 0
    assert all(r.mapped_records == r.total_records for (s, d), r in coverage.items() if d == "drug" and s in GENERATED_SOURCES)
    gold_unmapped = spark.sql("select count(*) from gold.condition_occurrence where condition_concept_id = 0").first()[0]
    assert gold_unmapped <= sum(r.unmapped_records for (s, d), r in coverage.items() if d == "condition")
    assert spark.sql("select count(*) from gold.condition_occurrence where condition_concept_id = 0 and condition_source_value is null").first()[0] == 0


def test_local_lab_code_seed_mirrors_governed_mapping():
    repo = Path(__file__).resolve().parents[2]
    governed = (repo / "metadata" / "mappings" / "local_lab_codes.csv").read_text(encoding="utf-8")
    seed = (repo / "transforms" / "seeds" / "map_local_lab_codes.csv").read_text(encoding="utf-8")
    assert seed == governed, "copy metadata/mappings/local_lab_codes.csv to transforms/seeds/map_local_lab_codes.csv"
