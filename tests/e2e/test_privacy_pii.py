"""PII detection and de-identification on the demo lake (issue #6): planted PII found, none of it in gold.

Expectations come from the generator's truth: ``_truth/planted_pii.csv`` (every planted value in the notes
with its span), ``_truth/identifiers.csv`` (every direct identifier the generator wrote) and
``_truth/persons.csv`` (the MRNs).
"""

from __future__ import annotations

import base64
import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from carelake.generate.notes import NOT_PII, note_corpus

MIN_RECALL = 0.95
# a built-in English recognizer's type counts for the Chinese one of the same kind
SAME_KIND = {"PERSON": "CN_PERSON", "PHONE_NUMBER": "CN_PHONE"}
NOT_REDACTED = {"DATE_TIME", NOT_PII}  # dates stay (optionally shifted); NOT_PII must not be found
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "samples"
SYNTHEA_NOTES = SAMPLES / "fhir-r4-bulk-ndjson" / "10-patients" / "DocumentReference.000.ndjson"
MIMIC_NOTES = SAMPLES / "mimic-iii-demo-1.4" / "NOTEEVENTS.csv"


@pytest.fixture(scope="module")
def policy(settings):
    from carelake.privacy.analyzer import load_policy

    return load_policy(settings.metadata_dir)


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def find_spans(spark, policy, texts: dict[tuple[str, str], str]) -> dict[tuple[str, str], list[tuple[str, int, int]]]:
    """{(source_id, note_id): text} -> {(source_id, note_id): [(entity_type, start, end)]} through the Spark scan path."""
    from carelake.privacy.scan import analyze_texts

    keys = sorted(texts)
    frame = spark.createDataFrame([("notes", "note_text", texts[k], i) for i, k in enumerate(keys)],
                                  "table string, column string, text string, text_id bigint").repartition(2)
    spans = defaultdict(list)
    for row in analyze_texts(frame, policy).collect():
        spans[keys[row.text_id]].append((SAME_KIND.get(row.entity_type, row.entity_type), row.start, row.end))
    return spans


def recall_report(planted: list, spans: dict) -> tuple[dict[str, float], list]:
    """Recall per entity type (a planted span is found when a finding of its kind overlaps it) and the
    NOT_PII numbers wrongly found as resident IDs."""
    hits, totals, false_ids = defaultdict(int), defaultdict(int), []
    for p in planted:
        found = spans.get((p.source_id, p.note_id), [])
        start, end = int(p.start), int(p.end)
        if p.entity_type == NOT_PII:
            false_ids += [p.value for kind, s, e in found if kind == "CN_RESIDENT_ID" and s < end and e > start]
            continue
        if p.entity_type in NOT_REDACTED:
            continue
        totals[p.entity_type] += 1
        hits[p.entity_type] += any(kind == p.entity_type and s < end and e > start for kind, s, e in found)
    return {kind: hits[kind] / totals[kind] for kind in totals}, false_ids


def test_planted_pii_in_the_demo_notes_is_found(spark, silver, demo_extracts, policy):
    from carelake.generate.notes import PlantedPii

    planted = [PlantedPii(**row) for row in read_csv(demo_extracts.truth_dir / "planted_pii.csv") if row["column"] == "note_text"]
    texts = {(r.source_id, r.note_source_id): r.note_text
             for r in spark.table("silver.int_notes").select("source_id", "note_source_id", "note_text").collect()}
    assert {(p.source_id, p.note_id) for p in planted} <= set(texts), "every generated note reaches silver"
    for p in planted[:200]:
        assert texts[(p.source_id, p.note_id)][int(p.start):int(p.end)] == p.value
    recall, false_ids = recall_report(planted, find_spans(spark, policy, texts))
    assert set(recall) >= {"CN_PERSON", "CN_RESIDENT_ID", "CN_PHONE", "CN_ADDRESS", "MEDICAL_RECORD_NUMBER", "MEDICAL_INSURANCE_NO"}
    assert all(r >= MIN_RECALL for r in recall.values()), recall
    assert not false_ids, f"invalid-checksum numbers flagged as resident IDs: {false_ids[:5]}"


def test_planted_pii_in_a_mixed_generated_corpus_is_found(spark, policy):
    notes, planted = note_corpus(300, seed=23)
    source_of = {p.note_id: p.source_id for p in planted}
    texts = {(source_of[n["note_source_id"]], n["note_source_id"]): n["note_text"] for n in notes}
    recall, false_ids = recall_report([p for p in planted if p.column == "note_text"], find_spans(spark, policy, texts))
    assert all(r >= MIN_RECALL for r in recall.values()), recall
    assert not false_ids


def test_no_planted_identifier_anywhere_in_gold(spark, gold, demo_extracts):
    truth = demo_extracts.truth_dir
    identifiers = {row[c] for row in read_csv(truth / "identifiers.csv")
                   for c in ("name", "id_number", "phone", "address", "insurance_no") if row[c]}
    identifiers |= {row["patient_source_id"] for row in read_csv(truth / "persons.csv")}
    identifiers |= {row["value"] for row in read_csv(truth / "planted_pii.csv") if row["entity_type"] not in NOT_REDACTED}
    # a doctor may share a patient's name: staff names in gold (provider names) are not patient identifiers
    staff = {r.name for t in ("h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_his")
             for r in spark.table(f"bronze.{t}__doctors").select("name").distinct().collect() if r.name}
    leaks = []
    tables = [r.tableName for r in spark.sql("show tables in gold").collect() if not r.isTemporary]
    for table in tables:
        df = spark.table(f"gold.{table}")
        strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string" and not f.name.startswith("_")]
        for column in strings:
            values = {r[0] for r in df.select(column).distinct().collect() if r[0]}
            leaks += [(table, column, v) for v in values & identifiers if v not in staff]
            if column == "note_text":
                leaks += [(table, column, i) for v in values for i in identifiers if i in v and i not in staff]
    assert "note" in tables and spark.table("gold.note").count() > 0
    assert not leaks, f"{len(leaks)} planted identifiers in gold, e.g. {leaks[:5]}"
    redacted = spark.table("gold.note").where("note_text like '%<CN_RESIDENT_ID>%'").count()
    assert redacted > 0


def test_pseudonyms_are_keyed_stable_and_replace_the_mrn(spark, gold, settings, policy):
    from carelake.privacy.pseudonyms import person_pseudonym, pseudonym_key

    rows = spark.table("gold.person").select("person_id", "person_source_value").collect()
    key = pseudonym_key(policy)
    assert all(r.person_source_value == person_pseudonym(key, r.person_id, policy) for r in rows), "stable: recomputed equal"
    other = b"another-key-for-the-test"
    assert all(r.person_source_value != person_pseudonym(other, r.person_id, policy) for r in rows)
    assert len({r.person_source_value for r in rows}) == len(rows)
    mapped = spark.sql("""select m.person_id, count(distinct m.source_id) as sources, count(distinct p.person_pseudonym) as pseudonyms
                          from silver.mpi_person_map m join silver.deid_person_pseudonyms p using (person_id)
                          group by m.person_id having count(distinct m.source_id) > 1""").collect()
    assert mapped and all(r.pseudonyms == 1 for r in mapped), "one pseudonym per person across hospitals"
    mrns = {r.patient_source_id for r in spark.table("silver.mpi_person_map").select("patient_source_id").collect()}
    assert not mrns & {r.person_source_value for r in rows}


def test_pii_scan_flags_the_undeclared_comment_column(spark, gold, settings, policy):
    from carelake.privacy.scan import FINDINGS_TABLE, scan_lake

    result = scan_lake(settings, spark, tables=["silver.int_notes", "silver.int_patients"], policy=policy)
    undeclared = {(r["table"], r["column"], r["entity_type"]) for r in result.undeclared()}
    assert ("silver.int_notes", "comment", "CN_PHONE") in undeclared
    assert not any(column in ("phone", "name", "id_number", "note_text") for _, column, _ in undeclared)
    declared = {(r["table"], r["column"]) for r in result.rows if r["declared"]}
    assert ("silver.int_notes", "note_text") in declared and ("silver.int_patients", "phone") in declared
    stored = spark.table(FINDINGS_TABLE).where("`column` = 'comment' and not declared").count()
    assert stored > 0
    assert "comment" in result.summary()


def test_reference_notes_are_scanned_without_crashing(spark, policy):
    """MIMIC-III NOTEEVENTS in this copy is the header only (see metadata/sources.yml; ingest makes no bronze
    table of it): the file is scanned as it is (0 texts), and the Synthea notes of the FHIR bulk sample (real
    English notes) give findings."""
    from pyspark.sql import functions as F

    from carelake.privacy.scan import analyze_texts

    mimic = spark.read.csv(str(MIMIC_NOTES), header=True, multiLine=True, escape='"')
    assert "text" in mimic.columns
    texts = mimic.select(F.lit("mimic").alias("table"), F.lit("text").alias("column"), F.col("text"),
                         F.monotonically_increasing_id().alias("text_id"))
    assert analyze_texts(texts, policy).count() == 0 == mimic.count()
    documents = [json.loads(line) for line in SYNTHEA_NOTES.read_text(encoding="utf-8").splitlines()[:40]]
    notes = [base64.b64decode(d["content"][0]["attachment"]["data"]).decode("utf-8") for d in documents]
    frame = spark.createDataFrame([("synthea", "note", t, i) for i, t in enumerate(notes)],
                                  "table string, column string, text string, text_id bigint")
    counts = {r.entity_type: r["count"] for r in analyze_texts(frame, policy).groupBy("entity_type").count().collect()}
    assert counts.get("PERSON", 0) > 0, counts
