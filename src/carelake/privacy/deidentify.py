"""De-identification before gold: a Python step between the MPI and the dbt gold build.

Reads silver (``mpi_person_map``, ``int_patients``, ``int_notes``) and writes:

* ``silver.deid_person_pseudonyms`` (person_id, person_pseudonym, date_shift_days): the keyed pseudonym
  of every MPI person (HMAC-SHA256, :mod:`carelake.privacy.pseudonyms`) and its date offset;
* ``silver.deid_notes``: the notes with person_id and ``note_text`` redacted: first the known identifiers
  of the note's own patient (name, ID number, phone, address, MRN, insurance number, date of birth
  (``yyyy-MM-dd``; gold keeps the birth year only) from silver) are replaced, then every Presidio finding (``redact_entities`` of the policy) becomes ``<ENTITY_TYPE>``;
  ``note_time`` moves by the person's offset when ``date_shift.enabled``.

Gold reads only these tables for identities (``gold.person.person_source_value`` = pseudonym,
``gold.note.note_text`` = redacted text): the key stays in this process and never reaches dbt.
Redaction runs per partition (``mapInPandas``), the analyzer built once per Python worker.
"""

from __future__ import annotations

import time

from carelake.failpoints import failpoint

PSEUDONYMS_TABLE = "silver.deid_person_pseudonyms"
NOTES_TABLE = "silver.deid_notes"
NOTES_SOURCE = "silver.int_notes"
_KNOWN = ("name", "id_number", "phone", "address", "patient_source_id", "insurance_no", "birth_date")
NOTES_SCHEMA = ("source_id string, note_source_id string, encounter_source_id string, person_id bigint, "
                "note_time timestamp, note_type string, note_title string, note_text string, doctor_code string, "
                "redactions int, _source_file string, _row_number bigint")


def _known_identifiers(row) -> list[tuple[str, str]]:
    """(value, entity type) of the note's patient, longest first (so a name inside an address goes with it)."""
    labels = {"name": "CN_PERSON", "id_number": "CN_RESIDENT_ID", "phone": "CN_PHONE", "address": "CN_ADDRESS",
              "patient_source_id": "MEDICAL_RECORD_NUMBER", "insurance_no": "MEDICAL_INSURANCE_NO",
              "birth_date": "DATE_OF_BIRTH"}
    values = [(str(row[f"known_{c}"]), labels[c]) for c in _KNOWN if row.get(f"known_{c}") and len(str(row[f"known_{c}"])) >= 2]
    return sorted(values, key=lambda v: -len(v[0]))


def replace_known(text: str | None, known: list[tuple[str, str]]) -> tuple[str | None, int]:
    """``text`` with the patient's own known identifiers replaced by ``<ENTITY_TYPE>``; (text, replacements)."""
    count = 0
    for value, label in known:
        if text and value in text:
            count += text.count(value)
            text = text.replace(value, f"<{label}>")
    return text, count


def redact_notes(texts: list[str | None], known: list[list[tuple[str, str]]], policy: dict) -> list[tuple[str | None, int]]:
    """Known identifiers first, then every Presidio finding (placeholders are never findings themselves)."""
    from carelake.privacy.analyzer import analyze_many, redact

    replaced = [replace_known(text, k) for text, k in zip(texts, known, strict=True)]
    findings = analyze_many([text for text, _ in replaced], policy)
    out = []
    for (text, count), found in zip(replaced, findings, strict=True):
        found = [f for f in found if not (text[f.start:f.end].startswith("<") and text[f.start:f.end].endswith(">"))]
        out.append((redact(text, found), count + len(found)))
    return out


def _redact_partitions(policy: dict, shifts: dict[int, int]):
    def run(batches):
        import pandas as pd

        columns = [c.split(" ")[0] for c in NOTES_SCHEMA.split(", ")]
        for frame in batches:
            rows = frame.to_dict("records")
            redacted = redact_notes([r["note_text"] for r in rows], [_known_identifiers(r) for r in rows], policy)
            out = []
            for row, (text, count) in zip(rows, redacted, strict=True):
                shift = shifts.get(row["person_id"], 0)
                note_time = row["note_time"] + pd.Timedelta(days=shift) if shift and row["note_time"] is not None else row["note_time"]
                out.append({**row, "note_text": text, "redactions": count, "note_time": note_time})
            yield pd.DataFrame(out, columns=columns)
    return run


def deidentify_step(settings=None, spark=None, policy: dict | None = None, key: bytes | None = None) -> str:
    """Write the pseudonym and redacted-notes tables; return a one-line summary."""
    from pyspark.sql import functions as F

    from carelake.config import load_settings
    from carelake.privacy.analyzer import load_policy
    from carelake.privacy.pseudonyms import date_shift_days, person_pseudonym, pseudonym_key
    from carelake.spark import get_spark

    started = time.monotonic()
    settings = settings or load_settings()
    spark = spark or get_spark(settings)
    policy = policy or load_policy(settings.metadata_dir)
    key = key or pseudonym_key(policy)
    shift_policy = policy.get("date_shift") or {}
    max_days = int(shift_policy.get("max_days", 30))
    person_ids = [r.person_id for r in spark.table("silver.mpi_person_map").select("person_id").distinct().collect()]
    rows = [(pid, person_pseudonym(key, pid, policy), date_shift_days(key, pid, max_days)) for pid in person_ids]
    pseudonyms = spark.createDataFrame(rows, "person_id bigint, person_pseudonym string, date_shift_days int")
    pseudonyms.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(PSEUDONYMS_TABLE)
    shifts = {pid: shift for pid, _, shift in rows} if shift_policy.get("enabled") else {}
    failpoint("deidentify.between_tables")  # pseudonyms replaced, notes not: both are whole-table overwrites

    notes_count = 0
    if spark.catalog.tableExists(NOTES_SOURCE):
        patients = spark.table("silver.int_patients").select(
            "source_id", "patient_source_id", *[F.col(c).cast("string").alias(f"known_{c}") for c in _KNOWN])
        notes = (spark.table(NOTES_SOURCE).alias("n")
                 .join(spark.table("silver.mpi_person_map").select("source_id", "patient_source_id", "person_id"),
                       ["source_id", "patient_source_id"])
                 .join(patients, ["source_id", "patient_source_id"], "left"))
        redacted = notes.mapInPandas(_redact_partitions(policy, shifts), NOTES_SCHEMA)
        redacted.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(NOTES_TABLE)
        notes_count = spark.table(NOTES_TABLE).count()
    return (f"de-identification: {len(rows)} person pseudonyms, {notes_count} notes redacted "
            f"({time.monotonic() - started:.1f}s)")
