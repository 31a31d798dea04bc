"""Write _<source>__sources.yml and _<source>__models.yml for each staged source (descriptions
from metadata/entities.yml). Run with generate_staging.py when a source is added."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
STAGING = ROOT / "transforms" / "models" / "staging"
LINEAGE = {
    "_source_id": "Source system id (metadata/sources.yml).", "_source_file": "Landing file the row was read from.",
    "_file_sha256": "SHA-256 of that file.", "_batch_id": "Ingest batch.", "_row_number": "Row (line / message) in the file.",
    "_extract_date": "Extract date folder of the file.", "_ingested_at": "When bronze ingested the row (UTC).",
}
EXTRA = {
    "source_id": "Source system id.", "id_number_source_value": "Resident ID as recorded.",
    "sex_source_value": "Sex as recorded.", "visit_type_source_value": "Visit class as recorded.",
    "value_source_value": "Result value as recorded.", "value_as_number": "Numeric result (null when not a number).",
    "range_low": "Lower bound parsed from the reference range.", "range_high": "Upper bound parsed from the reference range.",
    "department_type_source_value": "Department type as recorded.", "ethnicity": "民族 as recorded (h02 only).",
    "message_control_id": "MSH-10 of the message the row came from.", "message_type": "MSH-9 of that message.",
}
# silver entities with no canonical bronze entity (metadata/entities.yml): the samples stage their tables onto them
SILVER_ONLY = {"procedures": {
    "procedure_source_id": "The source's procedure record id (a hash of the row where the source has none).",
    "encounter_source_id": "The visit of the procedure.", "patient_source_id": "The source's patient number.",
    "procedure_code": "Procedure code (SNOMED CT, ICD-9 procedure).", "code_system": "Code system of the code (OMOP vocabulary_id spelling).",
    "procedure_name": "Procedure text.", "procedure_time": "Start of the procedure (UTC).", "procedure_end_time": "End of the procedure (UTC).",
}}
STD = {
    "sex": "M / F / U.", "visit_type": "outpatient / inpatient / emergency.",
    "id_number": "Resident ID, upper-case, without spaces and dashes.", "phone": "Digits only, without +86.",
    "unit": "Unit in UCUM spelling.", "abnormal_flag": "H / L / N.",
}
ACCEPTED = {"sex": ["M", "F", "U"], "visit_type": ["outpatient", "inpatient", "emergency"], "abnormal_flag": ["H", "L", "N"]}
UNION_STAGING = ROOT / "transforms" / "macros" / "union_staging.sql"
KEYS = {"patients": "patient_source_id", "encounters": "encounter_source_id", "diagnoses": "diagnosis_source_id",
        "prescriptions": "prescription_source_id", "lab_results": "lab_result_source_id", "doctors": "doctor_code",
        "departments": "department_code", "devices": "device_code", "procedures": "procedure_source_id"}


def canonical_columns(entity: str) -> list[str]:
    """Silver columns of a `stg_canonical` model: the [column, rule] pairs of entity_spec(entity)["staging"]."""
    text = UNION_STAGING.read_text(encoding="utf-8")
    block = re.search(rf'"{entity}":\s*\{{.*?"staging":\s*\[(.*?)\]\]', text, re.S)
    if not block:
        raise SystemExit(f"no staging columns for {entity} in {UNION_STAGING}")
    return re.findall(r'\["([a-z_0-9]+)", "[a-z_:]+"', block.group(1) + "]")


def model_columns(sql: Path, entity: str) -> list[str]:
    """Column names of a staging model: from entity_spec for a stg_canonical call, else from its SQL."""
    text = sql.read_text(encoding="utf-8")
    if "stg_canonical(" in text:
        return ["source_id", *canonical_columns(entity)]
    names = []
    for line in text.splitlines():
        m = re.search(r" as ([a-z_0-9]+),?\s*$", line) or re.match(r"^\s+(?:m\.)?([a-z_0-9]+),?\s*$", line)
        if m and m.group(1) not in ("dg1", "obx", "messages", "exploded", "source", "pid") and not line.strip().startswith(("select *", "--", "with", "from", ")")):
            names.append(m.group(1))
    return names


def main() -> None:
    registry = yaml.safe_load((ROOT / "metadata" / "sources.yml").read_text(encoding="utf-8"))
    entities = yaml.safe_load((ROOT / "metadata" / "entities.yml").read_text(encoding="utf-8"))["entities"]
    for source in registry["sources"]:
        folder = STAGING / source["id"]
        if not folder.is_dir():
            continue
        tables = []
        # bronze tables read under another entity's name (stg_canonical(table='conditions', ...))
        read = {m for sql in folder.glob("stg_*.sql") for m in re.findall(r"table='([a-z_0-9]+)'", sql.read_text(encoding="utf-8"))}
        for entity, spec in source["entities"].items():
            desc = spec.get("description") or entities.get(entity, {}).get("description", entity)
            table = {"name": entity, "identifier": f"{source['id']}__{entity}", "description": desc}
            key = KEYS.get(entity)
            if key and key in spec.get("columns", {}).values():  # the bronze table has the key column
                table["columns"] = [{"name": key, "data_tests": ["not_null"]}]
            if (folder / f"stg_{source['id']}__{entity}.sql").exists() or entity == "messages" or entity in read:
                tables.append(table)
        src = {"version": 2, "sources": [{
            "name": source["id"], "schema": "bronze", "description": f"{source['name']}: {source.get('description', '')}",
            "loader": "carelake.ingest", "loaded_at_field": "_ingested_at", "tables": tables}]}
        (folder / f"_{source['id']}__sources.yml").write_text(yaml.safe_dump(src, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
        models = []
        for sql in sorted(folder.glob("stg_*.sql")):
            entity = sql.stem.split("__", 1)[1]
            ecols = entities.get(entity, {}).get("columns") or {c: {"description": d} for c, d in SILVER_ONLY.get(entity, {}).items()}
            names = model_columns(sql, entity)
            cols = []
            for name in dict.fromkeys(names + list(LINEAGE)):
                col = {"name": name, "description": STD.get(name) or EXTRA.get(name) or ecols.get(name, {}).get("description") or LINEAGE.get(name, name)}
                tests = []
                if name == KEYS.get(entity):
                    tests.append("not_null")
                if name in ACCEPTED:
                    tests.append({"accepted_values": {"arguments": {"values": ACCEPTED[name]}}})
                if tests:
                    col["data_tests"] = tests
                cols.append(col)
            models.append({"name": sql.stem, "description": f"{source['name']}: {entity} from bronze, typed, trimmed and standardised (times in UTC). One row per bronze row (or per exploded HL7 segment); duplicates are removed in intermediate.", "columns": cols})
        (folder / f"_{source['id']}__models.yml").write_text(yaml.safe_dump({"version": 2, "models": models}, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
        print("wrote", folder.name)


if __name__ == "__main__":
    main()
