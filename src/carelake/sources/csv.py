"""Delimited text extracts (CSV/TSV) in any encoding Python knows (UTF-8, GB18030, GBK, UTF-16...).

The whole file is decoded once; when it is not valid in the declared encoding,
it is decoded with ``surrogateescape`` so that the bad bytes stay visible and
only the records that contain them are rejected. Records may span lines
(quoted fields with embedded newlines); ``row_number`` is the line where a
record starts (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from carelake.sources.base import ParsedFile, UnreadableFile, printable, raw_lines_as_rejected

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
csv.field_size_limit(64 * 1024 * 1024)


def _has_escaped_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _looks_binary(data: bytes) -> bool:
    head = data[:4096]
    if not head or head.startswith(_BOMS):
        return False
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control / len(head) > 0.10


def decode(data: bytes, encoding: str) -> tuple[str, bool]:
    """Return (text, clean): clean is False when bad bytes were kept as surrogate escapes."""
    if encoding.lower().replace("-", "").replace("_", "") in {"utf8", "utf8sig"} and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
        clean = True
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="surrogateescape")
        clean = False
    return text.removeprefix("\ufeff"), clean


def read_csv(path: Path, source, entity) -> ParsedFile:
    options = source.csv
    data = Path(path).read_bytes()
    if not data.strip(b" \t\r\n\x00"):
        raise UnreadableFile("empty file")
    if _looks_binary(data):
        raise UnreadableFile(
            f"not a text file (binary content), expected {options.encoding} CSV",
            raw_lines_as_rejected(data, "not a text file (binary content)", encoding=""),
        )
    text, clean = decode(data, options.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter, quotechar=options.quotechar)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise UnreadableFile(f"no header row ({exc})" if str(exc) else "no header row") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise UnreadableFile("empty header row (line 1)")
    if not clean and _has_escaped_bytes("".join(header)):
        raise UnreadableFile(
            f"header row is not valid {options.encoding}: is the declared encoding right?",
            raw_lines_as_rejected(data, f"file is not valid {options.encoding}", encoding=options.encoding),
        )

    if clean and "\x00" not in text:
        fast = _read_vectorised(text, header, options)
        if fast is not None:
            return fast

    parsed = ParsedFile(columns=header)
    nulls = set(options.null_values)
    expected = len(header)
    pending: list[tuple[int, int, str]] = []  # (start line, end line, reason) of rejects; raw text filled below
    previous_end = reader.line_num
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start, previous_end = previous_end + 1, reader.line_num
            pending.append((start, previous_end, f"unparseable record: {exc}"))
            continue
        start, previous_end = previous_end + 1, reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line: not a record
        if len(record) != expected:
            reason = f"expected {expected} fields, found {len(record)}"
            if len(record) < expected and "\n" in record[-1] and previous_end >= text.count("\n"):
                reason += " (unterminated quoted field runs to end of file)"
            pending.append((start, previous_end, reason))
            continue
        joined = "\x1f".join(record)
        if not clean and _has_escaped_bytes(joined):
            pending.append((start, previous_end, f"invalid bytes for encoding {options.encoding}"))
            continue
        if "\x00" in joined:
            pending.append((start, previous_end, "NUL byte in record"))
            continue
        if nulls.isdisjoint(record):
            parsed.add_row(start, tuple(record))
        else:
            parsed.add_row(start, tuple(None if v in nulls else v for v in record))

    if pending:
        lines = text.splitlines(keepends=True)
        for start, end, reason in pending:
            raw = "".join(lines[start - 1 : max(end, start)]).rstrip("\r\n")
            parsed.reject(start, printable(raw), reason)
        parsed.rejected.sort(key=lambda r: r.row_number)
    if not clean:
        parsed.warnings.append(f"file is not entirely valid {options.encoding}; {len(pending)} record(s) rejected")
    return parsed


def _nonblank_line_numbers(data: bytes):
    """1-based numbers of the non-empty lines of ``data`` (a line of only "\\r" counts as empty)."""
    import numpy as np

    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buffer)]))
    lengths = ends - starts
    has_cr = (lengths > 0) & (buffer[np.maximum(ends - 1, 0)] == 13) if len(buffer) else lengths > 0
    return np.flatnonzero((lengths - has_cr) > 0) + 1


def _read_vectorised(text: str, header: list[str], options) -> ParsedFile | None:
    """The fast path for the common case, in pyarrow's C++ CSV parser.

    Taken only when it provably gives what the line-by-line path would: every non-empty
    line after the header is exactly one well-formed record (no record spans lines, no
    wrong field counts, more than one column). Anything else returns None and the exact path runs.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if len(header) == 1:
        return None  # a whitespace-only line is a blank line to the exact path but a value to pyarrow
    data = text.encode("utf-8")
    line_numbers = _nonblank_line_numbers(data)
    if len(line_numbers) == 0 or line_numbers[0] != 1:
        return None
    names = [f"c{i}" for i in range(len(header))]
    invalid = []

    def on_invalid(row) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter, quote_char=options.quotechar, newlines_in_values=True,
                ignore_empty_lines=True, invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, null_values=list(options.null_values),
                strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowException:
        return None
    if invalid or table.num_rows != len(line_numbers) - 1:
        return None
    parsed = ParsedFile(columns=header, table=table)
    parsed.row_numbers = line_numbers[1:].tolist()
    return parsed
