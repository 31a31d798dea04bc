"""Excel workbooks (``.xlsx``), a common hospital export: one sheet per entity.

The entity's ``sheet`` (default: the first sheet) is read with openpyxl (read-only, cached values,
never formulas). Rows above ``header_row`` (a report title, often merged across the columns, a
blank spacer) are skipped; the header row names the columns. A record is one non-empty row below
the header; ``row_number`` is its row in the sheet, so quarantine rows point at the cell row a
person sees in Excel. A row with values beyond the header's last column or an Excel error value
(``#REF!``, ``#N/A``...) is rejected with the reason; every other row goes to bronze as strings:
dates as ``YYYY-MM-DD`` and date-times as ``YYYY-MM-DD HH:MM:SS`` (the cell's number format says
which), whole numbers without ``.0``.
"""

from __future__ import annotations

import zipfile
from datetime import date, datetime, time
from pathlib import Path

from carelake.sources.base import ParsedFile, UnreadableFile

EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA")
ISO_DATE, ISO_DATETIME = "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"


def cell_text(cell) -> str | None:
    """One cell as bronze writes it (a raw string), or None when empty."""
    value = cell.value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        has_time = value.time() != time(0) or any(c in (cell.number_format or "").lower() for c in ("h", "s"))
        return value.strftime(ISO_DATETIME if has_time else ISO_DATE)
    if isinstance(value, date):
        return value.strftime(ISO_DATE)
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def open_sheet(path: Path, sheet: str | None):
    """(workbook, worksheet) of ``sheet`` (default the first); UnreadableFile when not an xlsx or no such sheet."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableFile(f"not an xlsx workbook ({type(exc).__name__}: {exc})") from None
    if sheet is None:
        return workbook, workbook.worksheets[0]
    if sheet not in workbook.sheetnames:
        workbook.close()
        raise UnreadableFile(f"sheet {sheet!r} not found (sheets: {', '.join(workbook.sheetnames)})")
    return workbook, workbook[sheet]


def read_xlsx(path: Path, source, entity) -> ParsedFile:
    nulls = set(source.csv.null_values)
    workbook, sheet = open_sheet(path, entity.sheet)
    try:
        rows = sheet.iter_rows()
        header: list[str] = []
        for number, row in enumerate(rows, start=1):
            if number == entity.header_row:
                header = [(cell_text(c) or "").strip() for c in row]
                break
        while header and not header[-1]:
            header.pop()
        if not any(header):
            raise UnreadableFile(f"sheet {sheet.title!r}: no header in row {entity.header_row}")
        parsed = ParsedFile(columns=header)
        width = len(header)
        for number, row in enumerate(rows, start=entity.header_row + 1):
            values = [cell_text(c) for c in row]
            if not any(v is not None and v.strip() for v in values):
                continue  # an empty row is not a record
            raw = "\t".join("" if v is None else v for v in values).rstrip("\t")
            extra = [v for v in values[width:] if v is not None and v.strip()]
            errors = [(header[i], v) for i, v in enumerate(values[:width]) if v in EXCEL_ERRORS]
            if extra:
                parsed.reject(number, raw, f"sheet {sheet.title!r} row {number}: values beyond the header's {width} columns")
            elif errors:
                column, value = errors[0]
                parsed.reject(number, raw, f"sheet {sheet.title!r} row {number}: Excel error {value} in column {column!r}")
            else:
                values = (values + [None] * width)[:width]
                parsed.add_row(number, tuple(None if v is None or v in nulls else v for v in values))
        return parsed
    finally:
        workbook.close()
