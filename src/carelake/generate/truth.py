"""Ground truth: what was generated, who is who, and where every defect is.

``<out_dir>/_truth/``:

* ``persons.csv``   source_id, patient_source_id, person_key, variations
* ``defects.csv``   source_id, entity, file, row_number, record_id, column, defect_type, dimension, source_column
* ``files.csv``     source_id, entity, file, extract_date, records
* ``manifest.json`` the arguments, the defect rates, counts per defect type per source
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class FileEntry(NamedTuple):
    source_id: str
    entity: str
    file: str  # relative to out_dir, POSIX separators
    records: int
    extract_date: str


class DefectEntry(NamedTuple):
    source_id: str
    entity: str
    file: str
    row_number: int
    record_id: str
    column: str  # canonical column
    defect_type: str
    dimension: str
    source_column: str  # the header, FHIR path or HL7 field as found in the file


class PersonEntry(NamedTuple):
    source_id: str
    patient_source_id: str
    person_key: str
    variations: str  # ';'-joined: name_typo, id_format, phone_format, moved, address_line_break


@dataclass
class GenerationSummary:
    out_dir: Path
    sources: list[str]
    files: list[FileEntry]
    total_records: int
    truth_dir: Path
    defects: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> defect type -> count
    persons: int = 0


def write_table(path: Path, header: tuple[str, ...], rows) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_truth(truth_dir: Path, files: list[FileEntry], defects: list[DefectEntry], persons: list[PersonEntry],
                arguments: dict, rates: dict[str, float]) -> dict[str, dict[str, int]]:
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_table(truth_dir / "persons.csv", PersonEntry._fields, persons)
    write_table(truth_dir / "defects.csv", DefectEntry._fields, defects)
    write_table(truth_dir / "files.csv", ("source_id", "entity", "file", "extract_date", "records"),
                 ((f.source_id, f.entity, f.file, f.extract_date, f.records) for f in files))
    counts: dict[str, dict[str, int]] = {}
    for defect in defects:
        per_source = counts.setdefault(defect.source_id, {})
        per_source[defect.defect_type] = per_source.get(defect.defect_type, 0) + 1
    manifest = {
        "arguments": arguments,
        "defect_rates": rates,
        "total_records": sum(f.records for f in files),
        "files": len(files),
        "persons": len({p.person_key for p in persons}),
        "registrations": len(persons),
        "defects": counts,
    }
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return counts
