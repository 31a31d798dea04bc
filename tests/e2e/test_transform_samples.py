"""The shared real samples (Synthea 3.0 CSV, MIMIC-III demo) through silver into OMOP gold.

Expectations are computed here from bronze (the rows each sample delivers) and from the committed
terminology seeds, never hard-coded. Uses the session's demo lake (fixtures ``silver`` / ``gold``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "transforms" / "seeds"
SAMPLES = ("sample_synthea", "sample_mimic3")

# per sample: the bronze patients (table, patient column) ...
PATIENTS = {"sample_synthea": ("patients", "patient_source_id"), "sample_mimic3": ("patients", "patient_source_id")}
# ... and per gold table: (bronze table, patient column, the columns whose distinct values are one record).
# Synthea events have no record id: a record is the whole row (staging keys them by a hash of it).
EVENTS = {
    "sample_synthea": {
        "visit_occurrence": ("encounters", "patient_source_id", ["encounter_source_id"]),
        "condition_occurrence": ("conditions", "patient", ["start", "stop", "patient", "encounter", "code", "description"]),
        "drug_exposure": ("medications", "patient", ["start", "stop", "patient", "payer", "encounter", "code", "description",
                                                     "base_cost", "payer_coverage", "dispenses", "totalcost", "reasoncode",
                                                     "reasondescription"]),
        "measurement": ("observations", "patient", ["date", "patient", "encounter", "category", "code", "description", "value",
                                                    "units", "type"]),
        "procedure_occurrence": ("procedures", "patient", ["start", "stop", "patient", "encounter", "code", "description",
                                                           "base_cost", "reasoncode", "reasondescription"]),
    },
    "sample_mimic3": {
        "visit_occurrence": ("encounters", "patient_source_id", ["encounter_source_id"]),
        "condition_occurrence": ("diagnoses", "patient_source_id", ["diagnosis_source_id"]),
        "drug_exposure": ("prescriptions", "patient_source_id", ["prescription_source_id"]),
        "measurement": ("outputevents", "subject_id", ["row_id"]),
        "procedure_occurrence": ("procedures_icd", "subject_id", ["row_id"]),
    },
}
# per (sample, coverage domain): bronze table, code column, and the codes the committed seeds map
DOMAIN_TABLE = {"condition_occurrence": "condition", "drug_exposure": "drug", "measurement": "measurement",
                "procedure_occurrence": "procedure"}


def seed(name: str) -> list[dict]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def mappable_codes() -> dict[tuple[str, str], set[str]]:
    """(sample, coverage domain) -> the codes the seeds give a concept (what the mapping should reach)."""
    vocab = seed("map_vocabulary_codes")

    def codes(vocabulary: str) -> set[str]:
        return {r["source_code"] for r in vocab if r["vocabulary_id"] == vocabulary}

    icd10 = {r["source_code"] for r in seed("map_icd10_condition")}
    icd9 = {r["icd9_code"] for r in seed("map_icd9_icd10") if r["icd10_code"] in icd10}
    return {
        ("sample_synthea", "condition"): codes("SNOMED"),
        ("sample_synthea", "procedure"): codes("SNOMED"),
        ("sample_synthea", "drug"): codes("RxNorm"),
        ("sample_synthea", "measurement"): {r["loinc_code"] for r in seed("map_loinc_measurement")},
        ("sample_mimic3", "condition"): icd9,
        ("sample_mimic3", "procedure"): codes("ICD9Proc"),
        ("sample_mimic3", "drug"): set(),         # local formulary codes: no mapping in this vocabulary subset
        ("sample_mimic3", "measurement"): set(),  # OUTPUTEVENTS itemids: local, no LOINC mapping
    }


CODE_COLUMN = {
    ("sample_synthea", "condition_occurrence"): "code", ("sample_synthea", "drug_exposure"): "code",
    ("sample_synthea", "measurement"): "code", ("sample_synthea", "procedure_occurrence"): "code",
    ("sample_mimic3", "condition_occurrence"): "diagnosis_code", ("sample_mimic3", "drug_exposure"): "drug_code",
    ("sample_mimic3", "measurement"): "itemid", ("sample_mimic3", "procedure_occurrence"): "icd9_code",
}


def bronze_records(spark, sample: str, table: str):
    """The distinct records of a sample's bronze table whose patient is one of its bronze patients."""
    bronze_table, patient_col, key = EVENTS[sample][table]
    ptable, pcol = PATIENTS[sample]
    cols = ", ".join(f"b.`{c}`" for c in dict.fromkeys([*key, patient_col, CODE_COLUMN.get((sample, table), key[0])]))
    return spark.sql(f"""
        select distinct {cols} from bronze.{sample}__{bronze_table} b
        left semi join bronze.{sample}__{ptable} p on trim(p.{pcol}) = trim(b.`{patient_col}`)
    """)


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_sample_patient_reaches_exactly_one_person(spark, gold, sample):
    ptable, pcol = PATIENTS[sample]
    row = spark.sql(f"""
        select count(*) as patients, count_if(n = 0) as unlinked, count_if(n > 1) as multiply_linked,
               count_if(not in_person) as not_in_person
        from (
            select b.id, count(m.person_id) as n, bool_or(p.person_id is not null) as in_person
            from (select distinct trim({pcol}) as id from bronze.{sample}__{ptable} where {pcol} is not null) b
            left join silver.mpi_person_map m on m.source_id = '{sample}' and m.patient_source_id = b.id
            left join gold.person p on p.person_id = m.person_id
            group by b.id
        )
    """).first()
    assert row.patients > 0
    assert (row.unlinked, row.multiply_linked, row.not_in_person) == (0, 0, 0), row


def test_no_false_merges_between_samples_and_other_sources(spark, gold):
    # the samples' people are different people from each other and from the generated hospitals
    # (and within a sample every record is its own patient): each sample person holds exactly one record
    merged = spark.sql(f"""
        select m.person_id, collect_list(concat(m.source_id, ':', m.patient_source_id)) as records
        from silver.mpi_person_map m
        where m.person_id in (select person_id from silver.mpi_person_map where source_id in ('{"', '".join(SAMPLES)}'))
        group by m.person_id
        having count(*) > 1
    """).collect()
    assert merged == []


@pytest.mark.parametrize("sample", SAMPLES)
@pytest.mark.parametrize("table", ["visit_occurrence", "condition_occurrence", "drug_exposure", "measurement",
                                   "procedure_occurrence"])
def test_sample_events_reach_gold(spark, gold, sample, table):
    expected = bronze_records(spark, sample, table).count()
    got = spark.sql(f"select count(*) from gold.{table} where _source_id = '{sample}'").first()[0]
    assert got == expected > 0


@pytest.mark.parametrize("sample", SAMPLES)
def test_sample_mapping_coverage(spark, gold, sample):
    coverage = {r.domain: r for r in spark.table("gold.mapping_coverage").where(f"source_id = '{sample}'").collect()}
    mappable = mappable_codes()
    for table, domain in DOMAIN_TABLE.items():
        code_col = CODE_COLUMN[(sample, table)]
        codes = [(r[0] or "").strip().upper()
                 for r in bronze_records(spark, sample, table).select(f"`{code_col}`").collect()]
        mapped = sum(c in mappable[(sample, domain)] for c in codes)
        r = coverage[domain]
        assert (r.total_records, r.mapped_records, r.unmapped_records) == (len(codes), mapped, len(codes) - mapped), domain
        concept = {"condition": "condition_concept_id", "drug": "drug_concept_id", "measurement": "measurement_concept_id",
                   "procedure": "procedure_concept_id"}[domain]
        zero = spark.sql(f"select count(*) from gold.{table} where _source_id = '{sample}' and {concept} = 0").first()[0]
        assert zero == len(codes) - mapped, domain
    # the seeds were written from these samples: Synthea's SNOMED / RxNorm / LOINC codes all map
    if sample == "sample_synthea":
        assert all(coverage[d].unmapped_records == 0 for d in ("condition", "drug", "measurement", "procedure"))
    assert coverage["gender"].mapped_records == coverage["gender"].total_records


@pytest.mark.parametrize("sample,bronze_time", [("sample_synthea", "to_timestamp(admit_time)"),
                                                ("sample_mimic3", "to_timestamp(admit_time, 'yyyy-MM-dd HH:mm:ss')")])
def test_sample_times_are_kept_as_utc(spark, gold, sample, bronze_time):
    # Synthea writes UTC ('Z'); MIMIC's shifted wall-clock times are kept as given: neither is moved by
    # the generated hospitals' Asia/Shanghai zone, and the OMOP dates are those times' own calendar days
    shifted = spark.sql(f"""
        select count(*) as n, count_if(v.visit_start_datetime <> {bronze_time}) as moved,
               count_if(v.visit_start_date <> to_date({bronze_time})) as other_day
        from bronze.{sample}__encounters b
        join gold.visit_occurrence v on v._source_id = '{sample}' and v._source_file = b._source_file
                                    and v._row_number = b._row_number
    """).first()
    assert shifted.n > 0 and shifted.moved == 0 and shifted.other_day == 0
