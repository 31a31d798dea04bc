"""The ``metadata/sources.yml`` entries describing the generated sources.

Built from the same layout tables the writers use, so the registry and the
files cannot drift apart. metadata/sources.yml holds
the default four hospitals' entries (a test checks they equal ``registry_entries(4)``)
and the csv_zh hospitals' local lab code -> LOINC maps beside it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from carelake.generate import fhir
from carelake.generate.extracts import HIS_ENTITIES, HL7_ENTITY, HL7_FILE
from carelake.generate.imaging import pacs_source_id
from carelake.generate.layouts import CSV_LAYOUTS, CsvLayout, Hospital, plan_hospitals
from carelake.generate.reference import LAB_TESTS
from carelake.sources.dicom import CANONICAL as DICOM_COLUMNS

_DATE_FORMATS = {"csv_en": "%Y-%m-%d", "csv_zh": "%Y/%m/%d", "hl7_his": "%Y-%m-%d"}
_SOURCE_NOTES = {
    "csv_en": "HIS export, UTF-8 CSV with English headers, ISO 8601 times (no zone, Asia/Shanghai).",
    "csv_zh": "HIS export, GB18030 CSV with Chinese headers, CRLF, YYYY/MM/DD dates, local lab codes (L001...).",
    "fhir": "FHIR R4 bulk export (NDJSON), one file per resource type per day; references are 'Type/id'.",
    "hl7_adt": "HL7 v2.5 ADT (A01/A03/A04/A28/A31) and ORU^R01 feed; segments end with CR, one message per line.",
    "hl7_his": "HIS pharmacy and master data export, pipe-delimited UTF-8 CSV.",
    "pacs": "PACS export, header-only DICOM files per visit (<date>/<visit>/SE<nn>/IM<nnnn>.dcm); PatientID is the "
            "hospital's patient number, AccessionNumber the visit number.",
}


def _csv_entities(source_id: str, layout: CsvLayout, entities) -> dict:
    return {entity: {"path": f"{{landing}}/{source_id}/{{date}}/{layout.files[entity][0]}",
                     "columns": layout.registry_columns(entity)} for entity in entities}


def _csv_options(layout: CsvLayout, key: str) -> dict:
    return {"encoding": layout.encoding, "delimiter": layout.delimiter, "header_language": layout.header_language,
            "date_format": _DATE_FORMATS[key]}


def _source(h: Hospital, source_id: str, fmt: str, note_key: str, entities: dict, csv_options: dict | None = None,
            name_suffix: str = "") -> dict:
    entry = {"id": source_id, "name": h.name + name_suffix, "kind": h.kind, "format": fmt, "organization": h.organization,
             "region": "330400", "schedule": "daily"}
    if csv_options:
        entry["csv"] = csv_options
    entry["description"] = "Synthetic (carelake.generate). " + _SOURCE_NOTES[note_key]
    entry["entities"] = entities
    return entry


def entries_for(h: Hospital) -> list[dict]:
    pacs = pacs_source_id(h)
    imaging = [_source(h, pacs, "dicom", "pacs", {"imaging_instances": {"path": f"{{landing}}/{pacs}/{{date}}/**/*.dcm",
                                                                       "columns": dict(DICOM_COLUMNS)}},
                       name_suffix=" PACS")] if pacs else []
    return _system_entries(h) + imaging


def _system_entries(h: Hospital) -> list[dict]:
    if h.layout in ("csv_en", "csv_zh"):
        layout = CSV_LAYOUTS[h.layout]
        return [_source(h, h.base_id, "csv", h.layout, _csv_entities(h.base_id, layout, layout.files), _csv_options(layout, h.layout))]
    if h.layout == "fhir":
        entities = {entity: {"path": f"{{landing}}/{h.base_id}/{{date}}/{file_name}", "resource_type": resource,
                             "columns": dict(paths)}
                    for entity, (resource, file_name, paths) in fhir.RESOURCES.items()}
        return [_source(h, h.base_id, "fhir_ndjson", "fhir", entities)]
    adt, his = h.source_ids["adt"], h.source_ids["his"]
    layout = CSV_LAYOUTS["hl7_his"]
    messages = {HL7_ENTITY: {"path": f"{{landing}}/{adt}/{{date}}/*.hl7",
                             "description": f"One bronze row per HL7 message ({HL7_FILE}: ADT^A01/A03/A04/A28/A31, ORU^R01)."}}
    return [
        _source(h, adt, "hl7v2", "hl7_adt", messages, name_suffix=" ADT/LIS feed"),
        _source(h, his, "csv", "hl7_his", _csv_entities(his, layout, HIS_ENTITIES), _csv_options(layout, "hl7_his"),
                name_suffix=" HIS export"),
    ]


def registry_entries(hospitals: int = 4) -> list[dict]:
    """The sources.yml entries for the generated sources (ready for yaml.safe_dump)."""
    return [entry for h in plan_hospitals(hospitals) for entry in entries_for(h)]


def lab_code_map(hospitals: int = 4) -> list[dict]:
    """Local lab code -> LOINC, as each local-coding hospital would hand it over."""
    return [{"source_id": h.base_id, "local_code": t.local_code, "local_name": t.name_zh, "loinc_code": t.loinc,
             "loinc_name": t.name_en, "unit": t.unit}
            for h in plan_hospitals(hospitals) if CSV_LAYOUTS.get(h.layout) and CSV_LAYOUTS[h.layout].local_lab_codes
            for t in LAB_TESTS]


def lab_code_map_csv(hospitals: int = 4) -> str:
    rows = lab_code_map(hospitals)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["source_id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_lab_code_map(metadata_dir: Path) -> Path:
    """Refresh ``metadata/mappings/local_lab_codes.csv``: the local lab codes the generated hospitals send."""
    path = metadata_dir / "mappings" / "local_lab_codes.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lab_code_map_csv(4), encoding="utf-8")
    return path
