"""HL7 v2 reader: files of one or many ER7 (pipe-delimited) messages.

A record is one message. ``row_number`` is the 1-based index of the message
within the file, counting every message-like chunk, good or bad, so that the
numbering is stable: segments before the first MSH form chunk 1 when present,
then each MSH starts the next chunk.

Input accepted: CR, LF or CRLF segment terminators; a UTF-8 BOM (at the start
of the file or of any segment line, e.g. concatenated files); MLLP framing
bytes (0x0B, 0x1C); FHS/BHS/BTS/FTS batch envelopes. An envelope segment is
envelope only at a message boundary (the next non-envelope segment is an MSH,
or there is none); one found between a message's segments makes that message
a reject. Counts are checked against the standard: BTS-1 (batch message
count) against the messages of its batch, FTS-1 (file batch count) against
the batches of the file (an unwrapped run of messages is one batch); a
mismatch is a warning, the messages are still read.

Each message is decoded per its MSH-18 character set (HL7 table 0211, or any
Python codec name such as GBK); without MSH-18 the source's declared encoding
(``source.csv.encoding``, default UTF-8) is used, and a declared ``ASCII`` is
read as UTF-8. Undecodable bytes reject that message only.

Validation is minimal and each failure is one precise reason: MSH first with
a valid field separator and 4 (5 from v2.7) encoding characters, every segment
id three uppercase letters/digits, no envelope segment inside, at least one
segment after MSH, python-hl7 can parse it, MSH-9 message type and MSH-10
control id present.

Columns (all str or None)::

    message_control_id  MSH-10            message_type     MSH-9.1^MSH-9.2 (e.g. ADT^A01)
    message_datetime    MSH-7.1           sending_application  MSH-3.1
    sending_facility    MSH-4.1           hl7_version      MSH-12.1
    patient_source_id   PID-3 first repetition, component 1
    id_number           PID-3 repetition whose identifier type code (CX.5) is NNCHN
                        (HL7 table 0203 "NN" + ISO country, the Chinese resident ID);
                        when there is none, PID-19.1 (where many Chinese feeds put 身份证号;
                        in US feeds this is the SSN)
    name                PID-5 first repetition: family (XPN.1) and given (XPN.2), joined
                        by a space, or without one when either holds CJK characters
    birth_date PID-7.1  sex PID-8.1
    address             PID-11 first repetition, components 1-6 (street, other, city,
                        state/province, zip, country) that are not empty, joined by a space
    phone               PID-13 first repetition: XTN.1, else XTN.12, else XTN.6+XTN.7
    visit_class PV1-2.1   department_code PV1-3.1   doctor_code PV1-7.1
    encounter_source_id PV1-19.1   admit_time PV1-44.1   discharge_time PV1-45.1
    segments_json       every segment, see below
    observations_json   JSON list of OBX objects: set_id (OBX-1), value_type (2),
                        code/name/coding_system (3.1/3.2/3.3), value (5, whole field),
                        units (6.1), reference_range (7), abnormal_flag (8), status (11),
                        observation_time (14.1); "[]" when none
    diagnoses_json      JSON list of DG1 objects: set_id (DG1-1), code (3.1), name (3.2,
                        else DG1-4), coding_system (3.3, else DG1-2), diagnosis_type (6),
                        diagnosis_time (5.1); "[]" when none
    raw_message         the decoded segments joined by "\\r" (original separators/escapes)

followed by one column per ``entity.columns`` key of the form ``SEG.n`` (whole
field) or ``SEG.n.c`` (first repetition, component c) of the first such segment,
named by the key, e.g. ``PID.19``.

``segments_json`` is a JSON array with one object per segment, in order::

    [{"id": "MSH", "fields": [...]}, {"id": "PID", "fields": [...]}, ...]

``fields[n-1]`` is field n (for MSH too: fields[0] is MSH-1 "|", fields[1] is
MSH-2 "^~\\&" kept whole). Every field has the same depth: a list of
repetitions, each a list of components, each a list of subcomponent strings,
so ``SEG-n.r.c.s`` is ``fields[n-1][r-1][c-1][s-1]`` and an empty field is
``[[[""]]]``. Spark: ``from_json(segments_json,
'array<struct<id:string,fields:array<array<array<array<string>>>>>>')``.
Leaf strings have the escapes \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ and \\.br\\ (newline)
decoded; other escapes are kept as written. Where a value is re-assembled as
text (message_type, whole-field values) the standard separators ``~ ^ &`` are
used and trailing empty components dropped.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import hl7

from carelake.sources.base import ParsedFile, UnreadableFile, printable, raw_lines_as_rejected

COLUMNS = (
    "message_control_id", "message_type", "message_datetime", "sending_application", "sending_facility",
    "hl7_version", "patient_source_id", "id_number", "name", "birth_date", "sex", "address", "phone",
    "visit_class", "department_code", "doctor_code", "encounter_source_id", "admit_time", "discharge_time",
    "segments_json", "observations_json", "diagnoses_json", "raw_message",
)  # fmt: skip
ENVELOPE = frozenset({"FHS", "BHS", "BTS", "FTS"})
FIELD_REF = re.compile(r"^([A-Z0-9]{3})\.(\d+)(?:\.(\d+))?$")
SEGMENT_ID = re.compile(r"^[A-Z0-9]{3}$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile("[\udc80-\udcff]")
_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
# HL7 table 0211 (MSH-18) -> Python codec; ASCII is read as its superset UTF-8
CHARSETS = {
    "ASCII": "utf-8", "ISO IR6": "utf-8", "UNICODE UTF-8": "utf-8", "ISO IR192": "utf-8", "UTF-8": "utf-8",
    "ISO IR100": "latin-1", "ISO IR101": "iso8859-2", "ISO IR144": "iso8859-5", "ISO IR127": "iso8859-6",
    "ISO IR126": "iso8859-7", "ISO IR138": "iso8859-8", "ISO IR148": "iso8859-9",
    "GB 18030-2000": "gb18030", "GB18030": "gb18030", "ISO IR87": "iso2022_jp", "ISO IR159": "iso2022_jp_2",
    "KS X 1001": "euc_kr", "BIG-5": "big5", "CNS 11643-1992": "big5",
}  # fmt: skip


# ---- file -> message chunks ------------------------------------------------------------------
def _segment_lines(text: str) -> list[str]:
    """Non-blank segment lines, without BOMs, MLLP framing bytes or terminators."""
    lines = []
    for line in _LINE_BREAK.split(text):
        line = line.lstrip("\ufeff\x0b").rstrip("\x1c")
        if line.strip():
            lines.append(line)
    return lines


def _at_boundary(lines: list[str]) -> list[bool]:
    """For each line: is the next non-envelope segment an MSH (or is there none)?"""
    flags = [False] * len(lines)
    boundary = True
    for index in range(len(lines) - 1, -1, -1):
        flags[index] = boundary
        segment_id = lines[index][:3]
        if segment_id == "MSH":
            boundary = True
        elif segment_id not in ENVELOPE:
            boundary = False
    return flags


class _Envelope:
    """Follows FHS/BHS/BTS/FTS segments and checks their counts."""

    def __init__(self):
        self.warnings: list[str] = []
        self.batches = 0  # batches closed or opened so far
        self.batch_open = False
        self.in_batch = 0  # messages since the batch started
        self.loose = 0  # messages outside any BHS (one implicit batch)

    def message(self) -> None:
        if self.batch_open:
            self.in_batch += 1
        else:
            self.loose += 1

    def segment(self, line: str) -> None:
        segment_id = line[:3]
        if segment_id == "BHS":
            if self.batch_open:
                self.warnings.append(
                    f"BHS opens batch {self.batches + 1} before batch {self.batches} was closed by BTS"
                )
            self._close_loose()
            self.batches += 1
            self.batch_open, self.in_batch = True, 0
        elif segment_id == "BTS":
            found = self.in_batch if self.batch_open else self.loose
            if not self.batch_open:
                self._close_loose(force=True)
            self._check(line, "BTS-1 batch message count", found)
            self.batch_open, self.in_batch, self.loose = False, 0, 0
        elif segment_id == "FTS":
            self._close_loose()
            self._check(line, "FTS-1 file batch count", self.batches)

    def _close_loose(self, force: bool = False) -> None:
        if self.loose or force:
            self.batches += 1
            self.loose = 0

    def _check(self, line: str, what: str, found: int) -> None:
        declared = line[4:].split(line[3], 1)[0].strip() if len(line) > 4 else ""
        if not declared:
            return
        if not declared.isdigit():
            self.warnings.append(f"{what} {declared!r} is not a number")
        elif int(declared) != found:
            self.warnings.append(f"{what} is {declared} but {found} found")


def split_messages(lines: list[str]) -> tuple[list[list[str]], list[bool], list[str]]:
    """Message chunks (lists of segment lines), whether each starts with MSH, envelope warnings."""
    chunks: list[list[str]] = []
    starts_with_msh: list[bool] = []
    envelope = _Envelope()
    boundary = _at_boundary(lines)
    for index, line in enumerate(lines):
        segment_id = line[:3]
        if segment_id in ENVELOPE and boundary[index]:
            envelope.segment(line)
            continue
        if segment_id == "MSH":
            chunks.append([line])
            starts_with_msh.append(True)
            envelope.message()
        elif chunks:
            chunks[-1].append(line)
        else:
            chunks.append([line])
            starts_with_msh.append(False)
    return chunks, starts_with_msh, envelope.warnings


# ---- decoding --------------------------------------------------------------------------------
def charset_codec(value: str) -> str | None:
    """Python codec for an MSH-18 value, or None when unknown."""
    name = value.strip().upper()
    if name in CHARSETS:
        return CHARSETS[name]
    match = re.fullmatch(r"8859/(\d+)", name)
    if match:
        name = f"iso8859-{match.group(1)}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _msh_charset(msh: str) -> str:
    """First MSH-18 value (first repetition, first component), '' when absent."""
    if len(msh) < 4:
        return ""
    fields = msh.split(msh[3])
    if len(fields) < 18:
        return ""
    return re.split(r"[~^]", fields[17], maxsplit=1)[0].strip()


def _decode(segments: list[str], default_codec: str, warnings: list[str]) -> tuple[list[str] | None, str | None]:
    """Re-decode a chunk read as UTF-8/surrogateescape with its own charset: (segments, problem)."""
    declared = _msh_charset(segments[0]) if segments[0].startswith("MSH") else ""
    codec = charset_codec(declared) if declared else default_codec
    if codec is None:
        warnings.append(f"MSH-18 character set {declared!r} is unknown; read as {default_codec}")
        codec = default_codec
    if codec == "utf-8":
        if any(_SURROGATE.search(segment) for segment in segments):
            return None, "invalid UTF-8 bytes" + (f" (MSH-18 {declared!r})" if declared else "")
        return segments, None
    try:
        return [s.encode("utf-8", "surrogateescape").decode(codec) for s in segments], None
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None, f"invalid {codec} bytes" + (f" (MSH-18 {declared!r})" if declared else "")


# ---- one message ----------------------------------------------------------------------------
class Hl7Message:
    """A parsed message as uniform nested lists: segments of fields of repetitions of components of subcomponents."""

    def __init__(self, text: str):
        parsed = hl7.parse(text)
        self.separators = (parsed.separators[1], parsed.separators[2], parsed.separators[3], parsed.separators[4])
        self.escape = parsed.esc
        field_sep, rep_sep, comp_sep, sub_sep = self.separators
        esc = re.escape(self.escape)
        self._escapes = re.compile(f"{esc}(F|S|T|R|E|X[0-9A-Fa-f]+|\\.br){esc}")
        self._escape_map = {"F": field_sep, "S": comp_sep, "T": sub_sep, "R": rep_sep, "E": self.escape, ".br": "\n"}
        self.segments = [(str(segment[0]), [self._field(field) for field in segment[1:]]) for segment in parsed]
        msh_fields = self.segments[0][1]
        if len(msh_fields) > 1:  # MSH-1/MSH-2 are the separators themselves: never unescaped or split
            msh_fields[0], msh_fields[1] = [[[field_sep]]], [[[str(parsed[0][2])]]]

    def _unescape_match(self, match: re.Match) -> str:
        code = match.group(1)
        if code[0] == "X":
            try:
                return bytes.fromhex(code[1:]).decode("utf-8")
            except ValueError:
                return match.group(0)
        return self._escape_map[code]

    def _leaf(self, text: str) -> str:
        return self._escapes.sub(self._unescape_match, text) if self.escape in text else text

    def _field(self, field) -> list:
        """python-hl7 collapses levels without separators; restore field -> reps -> comps -> subs."""
        if len(field) == 1 and isinstance(field[0], str):
            return [[[self._leaf(field[0])]]]
        return [
            [[self._leaf(s) for s in comp] if isinstance(comp, list) else [self._leaf(comp)] for comp in rep]
            for rep in field
        ]

    # -- access
    def first(self, segment_id: str) -> list | None:
        return next((fields for sid, fields in self.segments if sid == segment_id), None)

    def all(self, segment_id: str) -> list[list]:
        return [fields for sid, fields in self.segments if sid == segment_id]


def _repetition(fields: list | None, n: int, rep: int = 1) -> list | None:
    if fields is None or n < 1 or len(fields) < n or len(fields[n - 1]) < rep:
        return None
    return fields[n - 1][rep - 1]


def component(fields: list | None, n: int, c: int = 1, rep: int = 1) -> str | None:
    """SEG-n, repetition rep, component c (subcomponents joined by &), None when empty."""
    repetition = _repetition(fields, n, rep)
    if repetition is None or len(repetition) < c:
        return None
    return "&".join(repetition[c - 1]).rstrip("&") or None


def _repetition_text(repetition: list) -> str:
    return "^".join("&".join(subs).rstrip("&") for subs in repetition).rstrip("^")


def field_text(fields: list | None, n: int) -> str | None:
    """SEG-n whole, re-assembled with standard separators, None when empty."""
    if fields is None or n < 1 or len(fields) < n:
        return None
    return "~".join(_repetition_text(rep) for rep in fields[n - 1]).rstrip("~") or None


def _first_of(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def _name(pid) -> str | None:
    family, given = component(pid, 5, 1), component(pid, 5, 2)
    if family and given:
        joiner = "" if _CJK.search(family + given) else " "
        return family.replace("&", " ") + joiner + given
    return _first_of(family, given)


def _id_number(pid) -> str | None:
    if pid is not None and len(pid) >= 3:
        for index in range(1, len(pid[2]) + 1):
            if component(pid, 3, 5, rep=index) == "NNCHN":
                return component(pid, 3, 1, rep=index)
    return component(pid, 19)


def _address(pid) -> str | None:
    repetition = _repetition(pid, 11)
    if repetition is None:
        return None
    parts = [" ".join(s for s in subs if s) for subs in repetition[:6]]
    return " ".join(p for p in parts if p) or None


def _phone(pid) -> str | None:
    local = (component(pid, 13, 6) or "") + (component(pid, 13, 7) or "")
    return _first_of(component(pid, 13, 1), component(pid, 13, 12), local)


def _message_type(msh) -> str | None:
    code, event = component(msh, 9, 1), component(msh, 9, 2)
    return f"{code}^{event}" if code and event else code


def _observation(obx) -> dict:
    return {
        "set_id": component(obx, 1), "value_type": component(obx, 2), "code": component(obx, 3, 1),
        "name": component(obx, 3, 2), "coding_system": component(obx, 3, 3), "value": field_text(obx, 5),
        "units": component(obx, 6), "reference_range": field_text(obx, 7), "abnormal_flag": field_text(obx, 8),
        "status": component(obx, 11), "observation_time": component(obx, 14),
    }  # fmt: skip


def _diagnosis(dg1) -> dict:
    return {
        "set_id": component(dg1, 1), "code": component(dg1, 3, 1),
        "name": _first_of(component(dg1, 3, 2), component(dg1, 4)),
        "coding_system": _first_of(component(dg1, 3, 3), component(dg1, 2)),
        "diagnosis_type": component(dg1, 6), "diagnosis_time": component(dg1, 5),
    }  # fmt: skip


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def extract(message: Hl7Message, raw: str, field_refs: list[tuple[str, int, int | None]]) -> tuple:
    msh, pid, pv1 = message.first("MSH"), message.first("PID"), message.first("PV1")
    values = (
        field_text(msh, 10), _message_type(msh), component(msh, 7), component(msh, 3), component(msh, 4),
        component(msh, 12), component(pid, 3), _id_number(pid), _name(pid), component(pid, 7),
        component(pid, 8), _address(pid), _phone(pid), component(pv1, 2), component(pv1, 3),
        component(pv1, 7), component(pv1, 19), component(pv1, 44), component(pv1, 45),
        _compact([{"id": sid, "fields": fields} for sid, fields in message.segments]),
        _compact([_observation(obx) for obx in message.all("OBX")]),
        _compact([_diagnosis(dg1) for dg1 in message.all("DG1")]),
        raw,
    )  # fmt: skip
    extra = tuple(
        field_text(message.first(sid), n) if c is None else component(message.first(sid), n, c)
        for sid, n, c in field_refs
    )
    return values + extra


def _encoding_problem(msh: str) -> str | None:
    separator = msh[3] if len(msh) > 3 else ""
    if not separator or separator.isalnum() or separator.isspace():
        return f"MSH-1 field separator {separator!r} is not valid"
    encoding = msh[4:].split(separator, 1)[0]
    if (
        len(encoding) not in (4, 5)
        or len(set(encoding + separator)) != len(encoding) + 1
        or any(ch.isalnum() or ch.isspace() for ch in encoding)
    ):
        return f"MSH-2 encoding characters {encoding!r} are not valid (expected 4 distinct symbols such as ^~\\&)"
    return None


def structure_problem(segments: list[str]) -> str | None:
    """The first structural problem of a decoded message, or None."""
    msh = segments[0]
    problem = _encoding_problem(msh)
    if problem:
        return problem
    separator = msh[3]
    for number, segment in enumerate(segments, start=1):
        segment_id = segment.split(separator, 1)[0]
        if not SEGMENT_ID.match(segment_id):
            return f"segment {number} {segment_id[:20]!r} is not a valid segment id"
        if segment_id in ENVELOPE:
            return f"segment {number} {segment_id!r} is a batch/file envelope segment inside the message"
    if len(segments) < 2:
        return "message has no segment after MSH"
    return None


def content_problem(message: Hl7Message) -> str | None:
    msh = message.segments[0][1]
    if not component(msh, 9, 1):
        return "MSH-9 message type missing"
    if not field_text(msh, 10):
        return "MSH-10 message control id missing"
    return None


# ---- the reader -----------------------------------------------------------------------------
def _field_refs(entity) -> tuple[list[str], list[tuple[str, int, int | None]], list[str]]:
    names, refs, warnings = [], [], []
    for key in entity.columns:
        if key in COLUMNS:
            continue
        match = FIELD_REF.match(key)
        if not match or int(match.group(2)) < 1 or (match.group(3) and int(match.group(3)) < 1):
            warnings.append(f"column {key!r} is neither an extracted HL7 field nor a SEG.n[.c] reference; ignored")
            continue
        names.append(key)
        refs.append((match.group(1), int(match.group(2)), int(match.group(3)) if match.group(3) else None))
    return names, refs, warnings


def _default_codec(source) -> str:
    declared = getattr(getattr(source, "csv", None), "encoding", None) or "utf-8"
    return charset_codec(declared) or "utf-8"


def read_hl7v2(path: Path, source, entity) -> ParsedFile:
    data = Path(path).read_bytes()
    if not data.strip():
        raise UnreadableFile("empty file")
    lines = _segment_lines(data.decode("utf-8", errors="surrogateescape"))
    if not any(line.startswith("MSH") for line in lines):
        raise UnreadableFile(
            "no MSH segment: not HL7 v2 messages",
            raw_lines_as_rejected(data, "not an HL7 v2 message (no MSH segment in the file)"),
        )
    names, refs, warnings = _field_refs(entity)
    parsed = ParsedFile(columns=[*COLUMNS, *names])
    chunks, starts_with_msh, envelope_warnings = split_messages(lines)
    default_codec = _default_codec(source)
    for number, (segments, is_message) in enumerate(zip(chunks, starts_with_msh, strict=True), start=1):
        raw = printable("\r".join(segments))
        if not is_message:
            parsed.reject(
                number,
                raw,
                f"{len(segments)} segment(s) before the first MSH ('{segments[0][:3]}' first): not part of a message",
            )
            continue
        decoded, problem = _decode(segments, default_codec, warnings)
        problem = problem or structure_problem(decoded)
        if problem:
            parsed.reject(number, raw, problem)
            continue
        text = "\r".join(decoded)
        try:
            message = Hl7Message(text)
        except Exception as exc:  # python-hl7 raises assorted errors on odd input
            parsed.reject(number, raw, f"python-hl7 cannot parse the message: {type(exc).__name__}: {exc}"[:300])
            continue
        problem = content_problem(message)
        if problem:
            parsed.reject(number, raw, problem)
        else:
            parsed.add_row(number, extract(message, text, refs))
    parsed.warnings.extend(dict.fromkeys(warnings + envelope_warnings))
    return parsed
