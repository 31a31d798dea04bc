"""Write one hospital's days as its sources' extract files, noting the ground truth.

Paths: ``<out_dir>/<source_id>/<YYYY-MM-DD>/<file>``. CSV files are written
every day (header only when nothing changed); NDJSON and HL7 files only when
they hold at least one record.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from carelake.generate import fhir
from carelake.generate.activity import ID_COLUMN, Day
from carelake.generate.defects import DIMENSIONS
from carelake.generate.hl7v2 import FIELD_OF, AdtFeed
from carelake.generate.layouts import CSV_LAYOUTS, CsvLayout, Hospital
from carelake.generate.truth import DefectEntry, FileEntry
from carelake.generate.writers import write_csv, write_hl7, write_ndjson

HIS_ENTITIES = ("prescriptions", "doctors", "departments", "devices")  # the hl7 hospital's CSV export
HL7_ENTITY = "messages"
HL7_FILE = "messages.hl7"


class ExtractWriter:
    """``only_dates``: write only these extract dates' files (the truth still notes every file)."""

    def __init__(self, out_dir: Path, start: date, only_dates: set[str] | None = None):
        self.out_dir = out_dir
        self.start = start
        self.only_dates = only_dates
        self.files: list[FileEntry] = []
        self.defects: list[DefectEntry] = []
        self.feeds: dict[str, AdtFeed] = {}  # an HL7 feed numbers its messages across days

    def place(self, source_id: str, day: int, file_name: str) -> tuple[Path | None, str, str]:
        """(path to write, or None when the date is not wanted; relative path; extract date)."""
        extract_date = (self.start + timedelta(days=day)).isoformat()
        relative = f"{source_id}/{extract_date}/{file_name}"
        wanted = self.only_dates is None or extract_date in self.only_dates
        return self.out_dir / relative if wanted else None, relative, extract_date

    def _note(self, source_id, entity, relative, records, row_numbers, source_column: dict[str, str]) -> None:
        for record, row in zip(records, row_numbers, strict=True):
            if "_defect" in record:
                defect, column = record["_defect"]
                self.defects.append(DefectEntry(source_id, entity, relative, row, record[ID_COLUMN[entity]], column,
                                                defect, DIMENSIONS[defect], source_column[column]))

    def hospital(self, h: Hospital, days: list[Day], first_day: int = 0) -> None:
        """Write ``days``, the first of which is day ``first_day`` of the generation."""
        if h.layout == "fhir":
            self.fhir_source(h, days, first_day)
        elif h.layout == "hl7":
            self.hl7_source(h, h.source_ids["adt"], days, first_day)
            self.csv_source(h.source_ids["his"], CSV_LAYOUTS["hl7_his"], days, first_day)
        else:
            self.csv_source(h.base_id, CSV_LAYOUTS[h.layout], days, first_day)

    def csv_source(self, source_id: str, layout: CsvLayout, days: list[Day], first_day: int = 0) -> None:
        for index, day in enumerate(days, start=first_day):
            for entity, (file_name, columns) in layout.files.items():
                path, relative, extract_date = self.place(source_id, index, file_name)
                records = day[entity]
                rows = ([layout.render(column, local_value(record, column, layout)) for _, column in columns] for record in records)
                starts = write_csv(path, [header for header, _ in columns], rows, encoding=layout.encoding,
                                   delimiter=layout.delimiter, line_terminator=layout.line_terminator)
                self.files.append(FileEntry(source_id, entity, relative, len(records), extract_date))
                self._note(source_id, entity, relative, records, starts, {column: header for header, column in columns})

    def fhir_source(self, h: Hospital, days: list[Day], first_day: int = 0) -> None:
        for index, day in enumerate(days, start=first_day):
            for entity, (_, file_name, paths) in fhir.RESOURCES.items():
                records = day[entity]
                if not records:
                    continue
                path, relative, extract_date = self.place(h.base_id, index, file_name)
                build = fhir.BUILDERS[entity]
                lines = write_ndjson(path, [build(record, h) for record in records])
                self.files.append(FileEntry(h.base_id, entity, relative, len(records), extract_date))
                self._note(h.base_id, entity, relative, records, lines, {column: p for p, column in paths.items()})

    def hl7_source(self, h: Hospital, source_id: str, days: list[Day], first_day: int = 0) -> None:
        feed = self.feeds.setdefault(source_id, AdtFeed(h))
        for index, day in enumerate(days, start=first_day):
            path, relative, extract_date = self.place(source_id, index, HL7_FILE)
            messages = feed.day(day, self.start + timedelta(days=index))
            if not messages:
                continue
            numbers = write_hl7(path, [m.text for m in messages])
            self.files.append(FileEntry(source_id, HL7_ENTITY, relative, len(messages), extract_date))
            seen = set()
            for number, message in zip(numbers, messages, strict=True):
                for record, entity in message.owns:
                    if "_defect" not in record:
                        continue
                    defect, column = record["_defect"]
                    key = (number, column, defect)
                    if key not in seen:
                        seen.add(key)
                        self.defects.append(DefectEntry(source_id, HL7_ENTITY, relative, number, message.control_id, column,
                                                        defect, DIMENSIONS[defect], FIELD_OF[entity][column]))


def local_value(record: dict, column: str, layout: CsvLayout):
    """The value as this HIS stores it: English names in an English HIS, its own lab codes."""
    if layout.language == "en" and column in record.get("_en", ()):
        return record["_en"][column]
    if layout.local_lab_codes and column == "lab_code":
        return record["_test"].local_code
    return record.get(column)
