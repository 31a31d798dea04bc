"""FHIR NDJSON / Bundle readers on the real samples and on crafted bad input (pure Python)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from carelake.config import load_settings
from carelake.registry import SourceSpec
from carelake.sources.base import UnreadableFile
from carelake.sources.fhir import FhirPath, read_fhir_bundle, read_fhir_ndjson

SAMPLES = load_settings().shared_dir / "data" / "samples"
NDJSON10 = SAMPLES / "fhir-r4-bulk-ndjson" / "10-patients"
NDJSON100 = SAMPLES / "fhir-r4-bulk-ndjson" / "100-patients"
BUNDLES = SAMPLES / "hl7v2" / "fhir-converter" / "fhir_r4_samples"

LINES_10 = {
    "AllergyIntolerance": 11, "Condition": 555, "Device": 16, "DocumentReference": 1215, "Encounter": 1215,
    "Immunization": 161, "Location": 44, "MedicationRequest": 1745, "Organization": 43, "Patient": 13,
    "Practitioner": 43, "PractitionerRole": 43, "Procedure": 2056,
}  # fmt: skip
LINES_100 = {"AllergyIntolerance": 75, "Immunization": 1818, "Organization": 271, "Patient": 120, "Practitioner": 271}


def make_entity(resource_type: str | None = "Patient", columns: dict | None = None, fmt: str = "fhir_ndjson"):
    source = SourceSpec.model_validate(
        {
            "id": "test_fhir",
            "name": "test",
            "kind": "reference_sample",
            "format": fmt,
            "entities": {"things": {"path": "x", "resource_type": resource_type, "columns": columns or {}}},
        }
    )
    return source, source.entities["things"]


# ---- path resolver ------------------------------------------------------------------------------
RESOURCE = json.loads(
    """{"resourceType": "Patient", "id": "p1", "active": true, "multipleBirthInteger": 2,
        "identifier": [{"system": "urn:oid:2.16.156.10011.1.1", "value": "110101199003070011"},
                       {"system": "urn:mrn", "value": "M-9", "type": {"text": "MRN"}}],
        "name": [{"text": "张三", "family": "张", "given": ["三", "小三"]}],
        "telecom": [{"system": "email", "value": "a@b.cn"}, {"system": "phone", "value": "13800000000"}],
        "address": [{"line": ["朝阳路1号"], "city": "北京"}]}"""
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("id", "p1"),
        ("identifier[system=urn:oid:2.16.156.10011.1.1].value", "110101199003070011"),
        ("identifier[type.text=MRN].value", "M-9"),
        ("name[0].text", "张三"),
        ("name[0].given[0]", "三"),
        ("name[0].given[1]", "小三"),
        ("name.family", "张"),  # a key on a list means its first item
        ("telecom[system=phone].value", "13800000000"),
        ("telecom[system=fax].value", None),
        ("name[3].text", None),
        ("missing.deeper", None),
        ("active", "true"),
        ("multipleBirthInteger", "2"),
        ("name[0].given", '["三","小三"]'),
        ("address[0]", '{"line":["朝阳路1号"],"city":"北京"}'),
        ("id[0]", None),
    ],
)
def test_path_resolver(path, expected):
    assert FhirPath(path).resolve(RESOURCE) == expected


def test_path_keeps_decimal_digits():
    resource = {"valueQuantity": {"value": Decimal("1.50")}}
    assert FhirPath("valueQuantity.value").resolve(resource) == "1.50"


@pytest.mark.parametrize("bad", ["", "a..b", "a[", "a[x]", "a.", "[0]", "a[=x]"])
def test_path_rejects_bad_syntax(bad):
    with pytest.raises(ValueError):
        FhirPath(bad)


# ---- NDJSON: real samples -----------------------------------------------------------------------
@pytest.mark.parametrize(("folder", "counts"), [(NDJSON10, LINES_10), (NDJSON100, LINES_100)])
def test_real_ndjson_reads_every_line(folder, counts):
    for resource_type, lines in counts.items():
        source, entity = make_entity(resource_type, {"id": "x", "subject.reference": "y", "meta.profile[0]": "z"})
        parsed = read_fhir_ndjson(folder / f"{resource_type}.000.ndjson", source, entity)
        assert parsed.rejected == [], resource_type
        assert parsed.records_read == len(parsed.rows) == lines, resource_type
        assert parsed.row_numbers == list(range(1, lines + 1))
        assert parsed.columns == [
            "resource_type",
            "resource_id",
            "id",
            "subject.reference",
            "meta.profile[0]",
            "resource_json",
        ]
        assert {row[0] for row in parsed.rows} == {resource_type}
        assert all(row[1] == row[2] for row in parsed.rows)


def test_real_patient_columns_and_lossless_json():
    source, entity = make_entity(
        "Patient",
        {"id": "patient_source_id", "gender": "sex", "birthDate": "birth_date", "telecom[system=phone].value": "phone"},
    )
    path = NDJSON10 / "Patient.000.ndjson"
    parsed = read_fhir_ndjson(path, source, entity)
    first = dict(zip(parsed.columns, parsed.rows[0], strict=True))
    assert first["resource_id"] == "129c6ac7-8d06-89de-ad63-0204a93e76c3"
    assert first["gender"] == "female"
    assert first["telecom[system=phone].value"] == "555-810-7203"
    assert [row[-1] for row in parsed.rows] == path.read_text(encoding="utf-8").splitlines()


def test_export_log_is_not_resources():
    source, entity = make_entity(None)
    parsed = read_fhir_ndjson(NDJSON10 / "log.ndjson", source, entity)
    assert parsed.rows == [] and [r.reason for r in parsed.rejected] == ["missing resourceType"] * 4


# ---- NDJSON: crafted bad lines ------------------------------------------------------------------
def test_crafted_ndjson_rejects(tmp_path):
    good = b'{"resourceType":"Patient","id":"p1","gender":"male"}'
    lines = [
        b"\xef\xbb\xbf" + good,  # 1: BOM at file start is fine
        b"",  # 2: blank, not a record
        b'{"resourceType":"Patient","id":',  # 3: truncated
        b"[1, 2]",  # 4: not an object
        b'{"resourceType":"Observation","id":"o1"}',  # 5: wrong type
        b'{"resourceType":"Patient","id":"p2","name":[{"text":"\xff\xfe"}]}',  # 6: bad UTF-8
        b'{"id":"p3"}',  # 7: no resourceType
        b'{"resourceType":"Patient","id":"p4","name":[{"text":"\xe6\x9d\x8e\xe5\x9b\x9b"}]}\r',  # 8: good, CRLF
        b"   ",  # 9: blank
        b'"just a string"',  # 10
        b'{"resourceType":7}',  # 11
    ]
    path = tmp_path / "Patient.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    source, entity = make_entity("Patient", {"name[0].text": "name"})
    parsed = read_fhir_ndjson(path, source, entity)

    assert parsed.row_numbers == [1, 8]
    assert [row[:3] for row in parsed.rows] == [("Patient", "p1", None), ("Patient", "p4", "李四")]
    reasons = {r.row_number: r.reason for r in parsed.rejected}
    assert reasons[3].startswith("invalid JSON: Expecting value at column 32")
    assert reasons[4] == "not a JSON object (found array)"
    assert reasons[5] == "resourceType 'Observation' is not the expected 'Patient'"
    assert reasons[6] == "invalid UTF-8 bytes"
    assert reasons[7] == "missing resourceType"
    assert reasons[10] == "not a JSON object (found string)"
    assert reasons[11] == "resourceType is not a string (found number)"
    assert parsed.records_read == 9 == sum(1 for line in lines if line.strip())
    bad_utf8 = next(r for r in parsed.rejected if r.row_number == 6)
    assert "\\xff\\xfe" in bad_utf8.raw_text
    assert all("\n" not in r.reason for r in parsed.rejected)


def test_ndjson_without_resource_type_filter_takes_any_resource(tmp_path):
    path = tmp_path / "mixed.ndjson"
    path.write_text('{"resourceType":"Patient","id":"a"}\n{"resourceType":"Observation","id":"b"}\n', encoding="utf-8")
    source, entity = make_entity(None)
    assert [row[:2] for row in read_fhir_ndjson(path, source, entity).rows] == [("Patient", "a"), ("Observation", "b")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\n \n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"id,name\n1,Zhang\n", "not NDJSON"),
    ],
)
def test_unreadable_ndjson(tmp_path, content, reason):
    path = tmp_path / "f.ndjson"
    path.write_bytes(content)
    source, entity = make_entity()
    with pytest.raises(UnreadableFile) as info:
        read_fhir_ndjson(path, source, entity)
    assert info.value.reason.startswith(reason)
    if content.strip():
        assert info.value.records  # the raw lines are kept for quarantine


# ---- Bundles ---------------------------------------------------------------------------------
def test_real_bundle_entries():
    source, entity = make_entity(None, {"code.coding[0].code": "code"}, fmt="fhir_bundle")
    parsed = read_fhir_bundle(BUNDLES / "ObservationBundle.json", source, entity)  # starts with a BOM
    assert [(n, row[0], row[1]) for n, row in zip(parsed.row_numbers, parsed.rows, strict=True)] == [
        (1, "Patient", "f001"),
        (3, "Observation", "f001"),
    ]
    # entry 2 of this sample is an Encounter placed directly in entry[], without {"resource": ...}
    assert [(r.row_number, r.reason) for r in parsed.rejected] == [
        (2, 'bundle entry is a bare resource, not wrapped in {"resource": ...}')
    ]
    source, entity = make_entity("Observation", {"code.coding[0].code": "code"}, fmt="fhir_bundle")
    parsed = read_fhir_bundle(BUNDLES / "ObservationBundle.json", source, entity)
    assert parsed.row_numbers == [3] and parsed.rejected == []


def test_json_that_is_not_a_bundle_is_unreadable():
    source, entity = make_entity(None, fmt="fhir_bundle")
    with pytest.raises(UnreadableFile, match="not a FHIR Bundle"):
        read_fhir_bundle(BUNDLES / "ExamplePatient.json", source, entity)


def test_bundle_decimals_fullurl_and_bad_entries(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(
        """{"resourceType": "Bundle", "type": "transaction", "entry": [
             {"fullUrl": "urn:uuid:1",
              "resource": {"resourceType": "Observation", "valueQuantity": {"value": 1.50, "unit": "毫摩尔/升"}}},
             {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient", "id": "p"}},
             {"request": {"method": "DELETE"}},
             {"resource": ["not", "an", "object"]}
           ]}""",
        encoding="utf-8",
    )
    source, entity = make_entity("Observation", {"valueQuantity.value": "value"}, fmt="fhir_bundle")
    parsed = read_fhir_bundle(path, source, entity)
    assert parsed.rows == [
        (
            "Observation",
            "urn:uuid:1",
            "1.50",
            '{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"毫摩尔/升"}}',
        )
    ]
    assert [(r.row_number, r.reason) for r in parsed.rejected] == [
        (3, "bundle entry has no resource"),
        (4, "not a JSON object (found array)"),
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ("{nope", "not a FHIR Bundle: invalid JSON"),
        ('{"resourceType":"Patient"}', "not a FHIR Bundle"),
    ],
)
def test_unreadable_bundle(tmp_path, content, reason):
    path = tmp_path / "b.json"
    path.write_text(content, encoding="utf-8")
    source, entity = make_entity(None, fmt="fhir_bundle")
    with pytest.raises(UnreadableFile) as info:
        read_fhir_bundle(path, source, entity)
    assert info.value.reason.startswith(reason)
