"""What a folder of extracts from an unknown source looks like (``carelake sources profile <folder>``).

Per file: format, encoding (BOMs, strict UTF-8, else charset-normalizer; the GB2312/GBK family is
reported as GB18030, its superset), delimiter and quote character (csv.Sniffer, then every candidate
checked for a consistent field count), header row and header language, malformed records with their
line numbers; per column: type, date/timestamp format, null tokens, code system recognised by pattern
(ICD-10, SNOMED CT with its Verhoeff check digit, LOINC with its mod-10 check digit, RxNorm), PII that
it looks like (resident ID numbers with a valid GB 11643 check character, phone numbers, names),
and the candidate keys of the file. Pure Python, no Spark.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

SAMPLE_RECORDS = 2000  # records per file the column statistics look at
DELIMITERS = (",", ";", "\t", "|")
NULL_TOKENS = ("", "NULL", "null", "NA", "N/A", "n/a", "\\N", "-", "None", "nan", "无")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y.%m.%d", "%Y年%m月%d日")
TIME_FORMATS = (" %H:%M:%S", " %H:%M", "T%H:%M:%S", " %H:%M:%S.%f", "T%H:%M")
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".dat"}
OTHER_FORMATS = {".ndjson": "fhir_ndjson", ".json": "fhir_bundle", ".hl7": "hl7v2", ".xlsx": "xlsx"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class ColumnProfile:
    name: str
    type: str = "empty"  # empty | integer | decimal | date | datetime | text
    non_null: int = 0
    distinct: int = 0
    date_format: str | None = None  # strftime form, e.g. "%d.%m.%Y"
    null_tokens: dict[str, int] = field(default_factory=dict)
    code_system: str | None = None  # ICD-10 | SNOMED CT | LOINC | RxNorm
    pii: str | None = None  # resident_id | phone | name
    examples: list[str] = field(default_factory=list)


@dataclass
class FileProfile:
    path: str
    format: str  # csv | xlsx | fhir_ndjson | fhir_bundle | hl7v2 | unknown
    encoding: str | None = None
    bom: bool = False
    delimiter: str | None = None
    quotechar: str | None = None
    sheet: str | None = None
    header_row: int = 1
    header_language: str | None = None  # en | zh | other
    records: int = 0
    columns: list[ColumnProfile] = field(default_factory=list)
    candidate_keys: list[str] = field(default_factory=list)
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)  # first 20
    error: str | None = None

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def date_formats(self) -> set[str]:
        return {c.date_format for c in self.columns if c.date_format}

    def to_dict(self) -> dict:
        return asdict(self)


# ---- encoding, delimiter, header ---------------------------------------------------------------
def detect_encoding(data: bytes) -> tuple[str, bool]:
    """(encoding, has BOM): BOMs first, then strict UTF-8, then charset-normalizer."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", True
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", True
    head = data[:4096]
    if head and head.count(0) > len(head) // 4:  # UTF-16 without a BOM: every other byte of ASCII text is NUL
        return ("utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"), False
    try:
        data.decode("utf-8")
        return "utf-8", False
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    name = (best.encoding if best else "latin-1").lower().replace("-", "_")
    if name in {"gb2312", "gbk", "gb18030", "hz", "cp936"}:
        return "gb18030", False
    try:
        return codecs.lookup(name).name, False
    except LookupError:
        return name, False


def header_language(header: list[str]) -> str:
    text = "".join(header)
    if _CJK.search(text):
        return "zh"
    return "en" if text.isascii() else "other"


def _records(text: str, delimiter: str, quotechar: str, limit: int | None = None):
    """(start line, record) pairs; csv.Error records come back as (line, None)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar)
    previous_end = 0
    while limit is None or limit > 0:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            record = None
        start, previous_end = previous_end + 1, reader.line_num
        if record is not None and (not record or (len(record) == 1 and not record[0].strip())):
            continue
        if limit is not None:
            limit -= 1
        yield start, record


def detect_dialect(text: str) -> tuple[str, str]:
    """(delimiter, quotechar): csv.Sniffer's guess, kept only if its field count is the most consistent."""
    sample = text[:64_000]
    quotechar = '"'
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS))
        quotechar = sniffed.quotechar or '"'
    except csv.Error:
        sniffed = None

    def score(delimiter: str) -> tuple[float, int]:
        counts = [len(r) for _, r in _records(sample, delimiter, quotechar, limit=200) if r is not None]
        if not counts:
            return (0.0, 0)
        mode, n = Counter(counts).most_common(1)[0]
        return (n / len(counts) if mode > 1 else 0.0, mode)

    scores = {d: score(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: scores[d])
    if sniffed is not None and scores.get(sniffed.delimiter, (0, 0)) >= scores[best]:
        best = sniffed.delimiter
    return best, quotechar


# ---- columns -------------------------------------------------------------------------------------
def _luhn_ok(payload: str, check: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(check)


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_ok(number: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(number)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(ch)]]
    return check == 0


def is_loinc(value: str) -> bool:
    match = re.fullmatch(r"(\d{1,5})-(\d)", value)
    return bool(match) and _luhn_ok(match.group(1), match.group(2))


def is_snomed(value: str) -> bool:
    """SCTID: 6-18 digits, a concept/description/relationship partition, Verhoeff check digit."""
    return bool(re.fullmatch(r"[1-9]\d{5,17}", value)) and value[-3:-1] in {"00", "01", "02", "10", "11", "12"} and verhoeff_ok(value)


_ICD10 = re.compile(r"[A-Z]\d{2}(\.\d{1,4}[A-Z]?|\d{1,2})?")
_RXNORM_HINT = re.compile(r"drug|rx|med|药", re.IGNORECASE)
CODE_SYSTEMS = (
    ("ICD-10", lambda v, h: bool(_ICD10.fullmatch(v.upper()))),
    ("LOINC", lambda v, h: is_loinc(v)),
    ("SNOMED CT", lambda v, h: is_snomed(v)),
    ("RxNorm", lambda v, h: bool(_RXNORM_HINT.search(h)) and bool(re.fullmatch(r"\d{2,7}", v))),
)
_PHONE = re.compile(r"(\+?86[- ]?)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\+?\d[\d -]{8,14}\d")
_NAME_HEADER = re.compile(r"^(姓名|患者姓名|name|full_?name|patient_?name|pat_?name|doctor_?name|staff_?name)$", re.IGNORECASE)


def _share(values: list[str], test) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def _date_format(values: list[str]) -> tuple[str | None, str | None]:
    """(type, strftime format) when every value parses with one candidate format."""
    def all_parse(fmt: str) -> bool:
        try:
            for v in values:
                datetime.strptime(v.strip(), fmt)
            return True
        except ValueError:
            return False

    for fmt in DATE_FORMATS:
        if all_parse(fmt):
            return "date", fmt
        for suffix in TIME_FORMATS:
            if all_parse(fmt + suffix):
                return "datetime", fmt + suffix
    if all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})", v.strip()) for v in values):
        return "datetime", "iso8601"
    return None, None


def profile_column(name: str, raw: list[str | None]) -> ColumnProfile:
    column = ColumnProfile(name)
    tokens = Counter(v.strip() if v is not None else "" for v in raw if v is None or v.strip() in NULL_TOKENS)
    column.null_tokens = {("<empty>" if k == "" else k): n for k, n in tokens.items()}
    values = [v.strip() for v in raw if v is not None and v.strip() not in NULL_TOKENS]
    column.non_null, column.distinct = len(values), len(set(values))
    column.examples = list(dict.fromkeys(values))[:3]
    if not values:
        return column
    sample = values[:500]
    if all(re.fullmatch(r"-?\d+", v) for v in sample):
        column.type = "integer"
    elif all(re.fullmatch(r"-?\d+[.,]\d+|-?\d+", v) for v in sample):
        column.type = "decimal"
    else:
        kind, fmt = _date_format(sample)
        column.type, column.date_format = (kind, fmt) if kind else ("text", None)
    for system, test in CODE_SYSTEMS:
        if column.type in {"text", "integer"} and _share(sample, lambda v: test(v, name)) >= 0.9:
            column.code_system = system
            break
    from carelake.generate.resident_id import is_valid

    if _share(sample, is_valid) >= 0.5:
        column.pii = "resident_id"
    elif column.type in {"text", "integer"} and not column.code_system and _share(sample, lambda v: bool(_PHONE.fullmatch(v))) >= 0.8:
        column.pii = "phone"
    elif _NAME_HEADER.match(name.strip()) or _share(sample, lambda v: bool(re.fullmatch(r"[\u4e00-\u9fff·]{2,4}|[A-Z][a-z]+ [A-Z][a-z]+", v))) >= 0.8:
        column.pii = "name"
    return column


def _fill_columns(profile: FileProfile, header: list[str], rows: list[list[str | None]]) -> None:
    profile.columns = [profile_column(name, [r[i] if i < len(r) else None for r in rows]) for i, name in enumerate(header)]
    total = len(rows)
    profile.candidate_keys = [
        c.name for c in profile.columns
        if total > 1 and c.non_null == total and c.distinct == total and c.type in {"integer", "text"}
    ]


# ---- files ---------------------------------------------------------------------------------------
def profile_delimited(path: Path) -> FileProfile:
    data = path.read_bytes()
    profile = FileProfile(str(path), "csv")
    if not data.strip():
        profile.error = "empty file"
        return profile
    profile.encoding, profile.bom = detect_encoding(data)
    text = data.decode(profile.encoding, errors="replace").removeprefix("\ufeff")
    profile.delimiter, profile.quotechar = detect_dialect(text)
    records = list(_records(text, profile.delimiter, profile.quotechar))
    counts = Counter(len(r) for _, r in records if r is not None)
    width = counts.most_common(1)[0][0] if counts else 0
    start = next((i for i, (_, r) in enumerate(records) if r is not None and len(r) == width and all(c.strip() for c in r)), 0)
    header_line, header = records[start] if records else (1, [])
    header = [h.strip() for h in (header or [])]
    profile.header_row, profile.header_language = header_line, header_language(header)
    good = []
    for line, record in records[start + 1 :]:
        if record is None or len(record) != len(header):
            profile.malformed += 1
            if len(profile.malformed_lines) < 20:
                profile.malformed_lines.append(line)
        elif len(good) < SAMPLE_RECORDS:
            good.append(record)
    profile.records = len(records) - start - 1
    _fill_columns(profile, header, good)
    return profile


def profile_xlsx(path: Path, sheet: str | None = None) -> FileProfile:
    from carelake.sources.base import UnreadableFile
    from carelake.sources.xlsx import cell_text, open_sheet

    profile = FileProfile(str(path), "xlsx")
    try:
        workbook, worksheet = open_sheet(path, sheet)
    except UnreadableFile as exc:
        profile.error = exc.reason
        return profile
    try:
        rows = [[cell_text(c) for c in row] for row in worksheet.iter_rows()]
    finally:
        workbook.close()
    profile.sheet = worksheet.title
    widths = [sum(1 for v in r if v is not None and v.strip()) for r in rows]
    widest = max(widths, default=0)
    start = next((i for i, w in enumerate(widths) if w >= max(2, 0.6 * widest)), 0)
    header = [(v or "").strip() for v in (rows[start] if rows else [])]
    while header and not header[-1]:
        header.pop()
    profile.header_row, profile.header_language = start + 1, header_language(header)
    body = [r for r in rows[start + 1 :] if any(v is not None and v.strip() for v in r)]
    profile.records = len(body)
    for number, r in enumerate(rows[start + 1 :], start=start + 2):
        if any(v is not None and v.strip() for v in r[len(header):]):
            profile.malformed += 1
            profile.malformed_lines.append(number)
    _fill_columns(profile, header, body[:SAMPLE_RECORDS])
    return profile


def profile_file(path: Path) -> FileProfile:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return profile_delimited(path)
    if suffix == ".xlsx":
        return profile_xlsx(path)
    return FileProfile(str(path), OTHER_FORMATS.get(suffix, "unknown"))


def profile_folder(folder: Path) -> list[FileProfile]:
    """Every file under ``folder`` (recursively, hidden and ``_`` folders skipped), sorted by path."""
    folder = Path(folder)
    if folder.is_file():
        return [profile_file(folder)]
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()
             and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)]
    return [profile_file(p) for p in files]


def render(profiles: list[FileProfile], console) -> None:
    """Readable rich tables: one summary row per file, then one table of columns per file."""
    from rich.table import Table

    summary = Table(title="files")
    for name in ("file", "format", "encoding", "delim", "header row", "lang", "records", "malformed", "keys"):
        summary.add_column(name)
    for p in profiles:
        malformed = f"{p.malformed}" + (f" (lines {', '.join(map(str, p.malformed_lines[:5]))})" if p.malformed else "")
        summary.add_row(Path(p.path).name, p.format, (p.encoding or "") + (" +BOM" if p.bom else ""),
                        repr(p.delimiter) if p.delimiter else "", str(p.header_row), p.header_language or "",
                        str(p.records), malformed, ", ".join(p.candidate_keys) or p.error or "")
    console.print(summary)
    for p in profiles:
        if not p.columns:
            continue
        table = Table(title=Path(p.path).name)
        for name in ("column", "type", "format", "non-null", "distinct", "nulls", "code system", "PII", "examples"):
            table.add_column(name)
        for c in p.columns:
            table.add_row(c.name, c.type, c.date_format or "", str(c.non_null), str(c.distinct),
                          ", ".join(f"{k}×{n}" for k, n in c.null_tokens.items()), c.code_system or "", c.pii or "",
                          ", ".join(c.examples)[:60])
        console.print(table)
