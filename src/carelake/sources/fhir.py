"""FHIR R4 readers: Bulk Data NDJSON files and Bundle documents.

A record is one FHIR resource: one non-blank NDJSON line (``row_number`` =
1-based physical line number) or one Bundle entry whose resource is of the
entity's ``resource_type`` (``row_number`` = 1-based index of the entry in
``Bundle.entry``; entries of other types are not records of this entity and
are skipped, so one bundle can feed several entities).

Columns of the ParsedFile::

    resource_type, resource_id, <entity.columns keys, in order>, resource_json

Each ``entity.columns`` key is a small path into the resource (see
:class:`FhirPath`); ``resource_json`` keeps the whole resource so nothing is
lost: for NDJSON it is the line itself (byte-exact), for a Bundle the entry's
resource re-serialised compactly (decimals keep their original digits).

Records are rejected, never raised, for: invalid JSON, a line that is not a
JSON object, a missing/non-string ``resourceType``, a ``resourceType`` other
than the entity's, undecodable UTF-8. The whole file is unreadable (raises
:class:`UnreadableFile`) when empty, binary, with no line of JSON at all, or
(bundle) not a ``Bundle``.

Validation against the FHIR models (``fhir.resources``) is deliberately not
done here: it costs about 0.3 ms per resource (some 30 times the reader's
budget of ~100k lines/s), its default models are R5 and reject valid R4 data
(every Synthea R4 Encounter fails on ``class``), and bronze must keep what
landed; conformance checks belong to silver.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from carelake.sources.base import ParsedFile, Rejected, UnreadableFile, printable, raw_lines_as_rejected

FIXED_HEAD = ("resource_type", "resource_id")
FIXED_TAIL = ("resource_json",)
_SURROGATE = re.compile("[\udc80-\udcff]")
_JSON_TYPE = {list: "array", str: "string", int: "number", Decimal: "number", bool: "boolean", type(None): "null"}


# ---- paths -------------------------------------------------------------------------------------
class FhirPath:
    """A compiled simple path into a FHIR resource.

    Grammar: steps separated by ``.``; each step is a key optionally followed
    by any number of ``[n]`` (0-based list index) or ``[key=value]`` (first
    list item whose ``key``, itself a dotted path, equals ``value`` as text)::

        id   name[0].given[0]   telecom[system=phone].value
        identifier[system=urn:oid:2.16.156.10011.1.1].value   type.coding[0].code

    A key applied to a list applies to its first item (``name.family`` ==
    ``name[0].family``); a filter applied to an object treats it as a one-item
    list. The result is text: scalars as JSON spells them (``true``, ``1.50``),
    objects and lists as compact JSON, anything missing as ``None``.
    """

    _STEP = re.compile(r"([^.\[\]]+)((?:\[[^\]]*\])*)")
    _BRACKET = re.compile(r"\[([^\]]*)\]")

    def __init__(self, text: str):
        self.text = text
        self.steps = self._compile(text)

    @classmethod
    def _compile(cls, text: str) -> tuple:
        steps: list[tuple] = []
        position = 0
        while position < len(text):
            match = cls._STEP.match(text, position)
            if not match:
                raise ValueError(f"invalid FHIR path {text!r} at character {position + 1}")
            steps.append(("key", match.group(1)))
            for inner in cls._BRACKET.findall(match.group(2)):
                if inner.isdigit():
                    steps.append(("index", int(inner)))
                elif "=" in inner and inner.split("=", 1)[0]:
                    key, value = inner.split("=", 1)
                    steps.append(("filter", cls(key), value))
                else:
                    raise ValueError(f"invalid FHIR path {text!r}: bracket [{inner}] is neither [n] nor [key=value]")
            position = match.end()
            if position < len(text):
                if text[position] != "." or position + 1 == len(text):
                    raise ValueError(f"invalid FHIR path {text!r} at character {position + 1}")
                position += 1
        if not steps:
            raise ValueError("empty FHIR path")
        return tuple(steps)

    def find(self, node):
        """The raw JSON value at this path (dict, list, scalar) or None."""
        for step in self.steps:
            kind = step[0]
            if kind == "key":
                if type(node) is dict:
                    node = node.get(step[1])
                    continue
                if isinstance(node, list):
                    node = node[0] if node else None
                node = node.get(step[1]) if isinstance(node, dict) else None
            elif node is None:
                return None
            elif kind == "index":
                node = node[step[1]] if isinstance(node, list) and step[1] < len(node) else None
            else:
                items = node if isinstance(node, list) else [node]
                key, wanted = step[1], step[2]
                node = next((item for item in items if as_text(key.find(item)) == wanted), None)
        return node

    def resolve(self, resource) -> str | None:
        return as_text(self.find(resource))


def as_text(value) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return compact_json(value)


# ---- JSON ------------------------------------------------------------------------------------
parse_json = json.JSONDecoder(parse_float=Decimal).decode  # decimals stay exact: 1.50 is "1.50"


_DECIMAL_MARK = "\x00dec:"
_DECIMAL_TOKEN = re.compile(r'"\\u0000dec:([^"]+)"')


def _mark_decimals(value):
    if isinstance(value, Decimal):
        return _DECIMAL_MARK + str(value)
    if isinstance(value, dict):
        return {key: _mark_decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mark_decimals(item) for item in value]
    return value


def compact_json(value) -> str:
    """Compact JSON (no spaces, UTF-8 kept) that writes Decimals as the numbers they were."""
    text = json.dumps(_mark_decimals(value), ensure_ascii=False, separators=(",", ":"))
    return _DECIMAL_TOKEN.sub(r"\1", text) if "\\u0000dec:" in text else text


def _json_error(exc: json.JSONDecodeError) -> str:
    return f"invalid JSON: {exc.msg} at column {exc.colno}"


# ---- shared record handling --------------------------------------------------------------------
class _ResourceTable:
    """Builds the ParsedFile of one file: columns, compiled paths, checks of one resource."""

    def __init__(self, entity):
        fixed = set(FIXED_HEAD + FIXED_TAIL)
        self.paths = [FhirPath(key) for key in entity.columns if key not in fixed]
        self.expected_type = entity.resource_type
        self.parsed = ParsedFile(columns=[*FIXED_HEAD, *(p.text for p in self.paths), *FIXED_TAIL])

    def problem(self, resource) -> str | None:
        """Why this JSON value is not a resource of the entity, or None."""
        if not isinstance(resource, dict):
            return f"not a JSON object (found {_JSON_TYPE.get(type(resource), 'value')})"
        resource_type = resource.get("resourceType")
        if resource_type is None:
            return "missing resourceType"
        if not isinstance(resource_type, str):
            return f"resourceType is not a string (found {_JSON_TYPE.get(type(resource_type), 'value')})"
        if self.expected_type and resource_type != self.expected_type:
            return f"resourceType {resource_type!r} is not the expected {self.expected_type!r}"
        return None

    def concerns(self, resource) -> bool:
        """False only for a resource that clearly belongs to another entity (another resourceType)."""
        if not self.expected_type or not isinstance(resource, dict):
            return True
        resource_type = resource.get("resourceType")
        return not isinstance(resource_type, str) or resource_type == self.expected_type

    def add(self, row_number: int, resource: dict, resource_json: str, fallback_id: str | None = None) -> None:
        resource_id = resource.get("id")
        resource_id = as_text(resource_id) if resource_id is not None else fallback_id
        values = (
            resource["resourceType"],
            resource_id,
            *[as_text(p.find(resource)) for p in self.paths],
            resource_json,
        )
        self.parsed.add_row(row_number, values)


def _read_text(path: Path) -> tuple[str, bool]:
    """The file as text (UTF-8, BOM dropped) and whether it holds undecodable bytes."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise UnreadableFile("empty file")
    if b"\x00" in data[:65536]:
        raise UnreadableFile("binary file (NUL bytes), not JSON", raw_lines_as_rejected(data, "binary file, not JSON"))
    try:
        text, damaged = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, damaged = data.decode("utf-8", errors="surrogateescape"), True
    return text.removeprefix("\ufeff"), damaged


# ---- readers ----------------------------------------------------------------------------------
def read_fhir_ndjson(path: Path, source, entity) -> ParsedFile:
    """One resource per line; blank lines are not records."""
    text, damaged = _read_text(path)
    table = _ResourceTable(entity)
    parsed = table.parsed
    json_lines = 0
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if damaged and _SURROGATE.search(line):
            parsed.reject(number, printable(line), "invalid UTF-8 bytes")
            continue
        try:
            resource = parse_json(line)
        except json.JSONDecodeError as exc:
            parsed.reject(number, line, _json_error(exc))
            continue
        except RecursionError:
            parsed.reject(number, line, "invalid JSON: nested too deeply")
            continue
        json_lines += 1
        problem = table.problem(resource)
        if problem:
            parsed.reject(number, line, problem)
        else:
            table.add(number, resource, line)
    if not json_lines and parsed.rejected:
        raise UnreadableFile(
            f"not NDJSON: no line is JSON (line {parsed.rejected[0].row_number}: {parsed.rejected[0].reason})",
            parsed.rejected,
        )
    return parsed


def read_fhir_bundle(path: Path, source, entity) -> ParsedFile:
    """One Bundle per file; its entries holding the entity's resource type are the records."""
    text, damaged = _read_text(path)
    if damaged:
        raise UnreadableFile("invalid UTF-8 bytes in bundle", [Rejected(1, printable(text), "invalid UTF-8 bytes")])
    try:
        bundle = parse_json(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = (
            _json_error(exc).replace(" at column", f" at line {exc.lineno}, column")
            if isinstance(exc, json.JSONDecodeError)
            else "invalid JSON: nested too deeply"
        )
        raise UnreadableFile(f"not a FHIR Bundle: {reason}", [Rejected(1, text, reason)]) from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, dict) else None
        what = f"resourceType {found!r}" if found else "no resourceType"
        raise UnreadableFile(f"not a FHIR Bundle ({what})", [Rejected(1, text, f"not a FHIR Bundle ({what})")])
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise UnreadableFile("Bundle.entry is not a list", [Rejected(1, text, "Bundle.entry is not a list")])
    table = _ResourceTable(entity)
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not table.concerns(resource if resource is not None else entry):
            continue  # another entity's resource
        if resource is None:
            bare = isinstance(entry, dict) and "resourceType" in entry
            reason = (
                'bundle entry is a bare resource, not wrapped in {"resource": ...}'
                if bare
                else "bundle entry has no resource"
            )
            table.parsed.reject(number, compact_json(entry), reason)
            continue
        problem = table.problem(resource)
        if problem:
            table.parsed.reject(number, compact_json(entry), problem)
        else:
            full_url = entry.get("fullUrl")
            table.add(number, resource, compact_json(resource), full_url if isinstance(full_url, str) else None)
    return table.parsed
