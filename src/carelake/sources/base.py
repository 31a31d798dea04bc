"""The contract every format reader fulfils.

A reader turns one landed file into a :class:`ParsedFile`: the good records
(one tuple of raw string values per record, aligned with ``columns``) and the
rejected ones (raw text and a reason). Readers are pure Python: no Spark.

What a *record* is depends on the format and is what the ledger counts:
a CSV/XLSX record (one logical row, possibly spanning lines), one NDJSON line,
one HL7 v2 message. ``records_read == len(rows) + len(rejected)`` always holds.

A problem with the whole file (empty, truncated beyond repair, not this
format, a required column missing) raises :class:`UnreadableFile`; the
exception may carry the file's raw records so they can still be quarantined
and nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Rejected:
    row_number: int  # 1-based line number where the record starts (message index for HL7 batches)
    raw_text: str  # the record as found; undecodable bytes shown as \\xNN
    reason: str  # one line, says what is wrong, e.g. "expected 9 fields, found 7"


@dataclass
class ParsedFile:
    columns: list[str]  # source-side column names (CSV header, FHIR path, HL7 field ref)
    rows: list[tuple] = field(default_factory=list)  # values are str or None, aligned with columns
    row_numbers: list[int] = field(default_factory=list)  # 1-based source line of each good row
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # A reader with a vectorised fast path may hand over its good records as a pyarrow Table
    # (string columns aligned with ``columns``) instead of ``rows``; ``row_numbers`` still applies.
    table: Any = None

    @property
    def good_count(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.rows)

    @property
    def records_read(self) -> int:
        return self.good_count + len(self.rejected)

    def good_rows(self) -> list[tuple]:
        if self.table is None:
            return self.rows
        return list(zip(*(column.to_pylist() for column in self.table.columns)))

    def arrow_columns(self) -> list:
        """The good records column by column (pyarrow arrays of strings)."""
        if self.table is not None:
            return [column.combine_chunks() for column in self.table.columns]
        return string_arrays(self.rows, len(self.columns))

    def add_row(self, row_number: int, values: tuple) -> None:
        self.rows.append(values)
        self.row_numbers.append(row_number)

    def reject(self, row_number: int, raw_text: str, reason: str) -> None:
        self.rejected.append(Rejected(row_number, raw_text, reason))


def string_arrays(rows: list[tuple], width: int) -> list:
    """Rows of ``width`` str-or-None values as one pyarrow string array per column."""
    import pyarrow as pa

    transposed = list(zip(*rows)) if rows else [()] * width
    return [pa.array(values, type=pa.string()) for values in transposed]


class UnreadableFile(Exception):
    """The whole file cannot be read as declared.

    ``records`` holds whatever raw records could still be separated (each as
    ``Rejected``) so that the ingest quarantines them instead of losing them.
    """

    def __init__(self, reason: str, records: list[Rejected] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.records = records or []


class Reader(Protocol):
    def __call__(self, path: Path, source, entity) -> ParsedFile:  # source: SourceSpec, entity: EntitySpec
        ...


def raw_lines_as_rejected(data: bytes, reason: str, encoding: str = "utf-8") -> list[Rejected]:
    """Split undecodable/unparseable bytes into per-line quarantine records."""
    text = data.decode(encoding, errors="backslashreplace") if encoding else data.decode("latin-1")
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            out.append(Rejected(number, line, reason))
    return out


def printable(text: str) -> str:
    """Make surrogate-escaped undecodable bytes visible as \\xNN (for raw_text)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return "".join(f"\\x{ord(ch) - 0xDC00:02x}" if "\udc80" <= ch <= "\udcff" else ch for ch in text)
