"""HL7 v2 reader on the real samples and on crafted bad input (pure Python)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carelake.config import load_settings
from carelake.registry import SourceSpec
from carelake.sources.base import UnreadableFile
from carelake.sources.hl7v2 import COLUMNS, read_hl7v2

HL7 = load_settings().shared_dir / "data" / "samples" / "hl7v2"
CONVERTER = HL7 / "fhir-converter" / "hl7v2"
PYTHON_HL7 = HL7 / "python-hl7"

# messages read per python-hl7 sample file (all good ones parse, none rejected, no warnings)
PYTHON_HL7_GOOD = {
    "rep_sample_hl7.hl7": 1, "sample_batch.hl7": 1, "sample_batch1.hl7": 2, "sample_batch2.hl7": 2,
    "sample_batch3.hl7": 1, "sample_batch4.hl7": 1, "sample_file.hl7": 1, "sample_file1.hl7": 3,
    "sample_file2.hl7": 2, "sample_file3.hl7": 1, "sample_file4.hl7": 1, "sample_file5.hl7": 1,
    "sample_file6.hl7": 1, "sample_hl7.hl7": 1, "sample_msh.hl7": 1,
}  # fmt: skip
# one message interrupted by an envelope segment: rejected
PYTHON_HL7_REJECTED = {
    "sample_bad_batch1.hl7": "segment 3 'BHS' is a batch/file envelope segment inside the message",
    "sample_bad_file1.hl7": "segment 3 'BHS' is a batch/file envelope segment inside the message",
    "sample_bad_file2.hl7": "segment 3 'FHS' is a batch/file envelope segment inside the message",
}
# envelope and segments but no MSH at all: unreadable, lines quarantined
PYTHON_HL7_UNREADABLE = {"sample_bad_batch.hl7": 7, "sample_bad_file.hl7": 9, "sample_bad_file3.hl7": 7}

ADT = (
    "MSH|^~\\&|HIS|H001|EMPI|H001|20240301120000||ADT^A01^ADT_A01|MSG0001|P|2.5|||||CHN|UNICODE UTF-8",
    "EVN|A01|20240301120000",
    "PID|1||P0001^^^H001^MR~110101199003070011^^^CHN^NNCHN||张^三||19900307|M|||朝阳路1号^^北京市^北京^100020^CHN^H||13800000000|||||",
    "PV1|"
    + "|".join(
        {
            1: "1",
            2: "I",
            3: "0301^12^1^H001",
            7: "D123^李^四",
            19: "V0001",
            44: "20240301110000",
            45: "20240305090000",
        }.get(n, "")
        for n in range(1, 46)
    ),
    "OBX|1|NM|2345-7^葡萄糖^LN||6.1|mmol/L^毫摩尔/升|3.9-6.1|N|||F|||20240301113000",
    "DG1|1|I10|E11.9^2型糖尿病^ICD10||20240301|A",
)


def make_entity(columns: dict | None = None, encoding: str = "utf-8"):
    source = SourceSpec.model_validate(
        {
            "id": "test_hl7",
            "name": "test",
            "kind": "reference_sample",
            "format": "hl7v2",
            "csv": {"encoding": encoding},
            "entities": {"messages": {"path": "x", "columns": columns or {}}},
        }
    )
    return source, source.entities["messages"]


def read(tmp_path: Path, content: bytes | str, columns: dict | None = None, encoding: str = "utf-8"):
    path = tmp_path / "m.hl7"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    source, entity = make_entity(columns, encoding)
    return read_hl7v2(path, source, entity)


def as_dicts(parsed) -> list[dict]:
    return [dict(zip(parsed.columns, row, strict=True)) for row in parsed.rows]


# ---- real samples ------------------------------------------------------------------------------
def test_every_fhir_converter_message_parses():
    files = sorted(CONVERTER.glob("*.hl7"))
    assert len(files) == 139
    source, entity = make_entity()
    boms = 0
    for path in files:
        boms += path.read_bytes().startswith(b"\xef\xbb\xbf")
        parsed = read_hl7v2(path, source, entity)
        assert parsed.rejected == [] and parsed.warnings == [], path.name
        assert parsed.row_numbers == [1], path.name
        row = as_dicts(parsed)[0]
        assert row["message_control_id"] and row["message_type"], path.name
        assert row["raw_message"].startswith("MSH|"), path.name  # BOM dropped
        assert "\n" not in row["raw_message"]  # LF terminators became CR
    assert boms == 27


def test_converter_message_fields():
    source, entity = make_entity({"PID.19": "ssn", "MSH.9.3": "structure"})
    row = as_dicts(read_hl7v2(CONVERTER / "ADT01-23.hl7", source, entity))[0]
    assert row["message_type"] == "ADT^A01"
    assert (row["patient_source_id"], row["name"], row["birth_date"], row["sex"]) == (
        "10006579",
        "DUCK DONALD",
        "19241010",
        "M",
    )
    assert row["address"] == "111 DUCK ST FOWL CA 999990000"
    assert (row["visit_class"], row["department_code"], row["encounter_source_id"]) == ("I", "PREOP", "40007716")
    assert row["id_number"] == row["PID.19"] == "123121234"  # no NNCHN identifier: PID-19
    assert json.loads(row["diagnoses_json"])[0]["code"] == "71596"


@pytest.mark.parametrize(("name", "messages"), sorted(PYTHON_HL7_GOOD.items()))
def test_python_hl7_good_files(name, messages):
    source, entity = make_entity()
    parsed = read_hl7v2(PYTHON_HL7 / name, source, entity)
    assert (len(parsed.rows), parsed.rejected, parsed.warnings) == (messages, [], [])
    assert parsed.row_numbers == list(range(1, messages + 1))


@pytest.mark.parametrize(("name", "reason"), sorted(PYTHON_HL7_REJECTED.items()))
def test_python_hl7_interrupted_messages_are_rejected(name, reason):
    source, entity = make_entity()
    parsed = read_hl7v2(PYTHON_HL7 / name, source, entity)
    assert parsed.rows == [] and [(r.row_number, r.reason) for r in parsed.rejected] == [(1, reason)]
    assert parsed.warnings == []  # BTS|1 / FTS|1 agree with the one message found
    assert "PV1|1|O" in parsed.rejected[0].raw_text  # the whole message is kept


@pytest.mark.parametrize(("name", "lines"), sorted(PYTHON_HL7_UNREADABLE.items()))
def test_python_hl7_files_without_msh_are_unreadable(name, lines):
    source, entity = make_entity()
    with pytest.raises(UnreadableFile, match="no MSH segment") as info:
        read_hl7v2(PYTHON_HL7 / name, source, entity)
    assert len(info.value.records) == lines


# ---- extraction ---------------------------------------------------------------------------------
def test_extracted_columns(tmp_path):
    parsed = read(tmp_path, "\r".join(ADT) + "\r", {"PID.3.5": "id_type", "PV1.44": "admit", "ZZZ.1": "absent"})
    assert parsed.columns == [*COLUMNS, "PID.3.5", "PV1.44", "ZZZ.1"]
    row = as_dicts(parsed)[0]
    assert row == row | {
        "message_control_id": "MSG0001", "message_type": "ADT^A01", "message_datetime": "20240301120000",
        "sending_application": "HIS", "sending_facility": "H001", "hl7_version": "2.5",
        "patient_source_id": "P0001", "id_number": "110101199003070011", "name": "张三",
        "birth_date": "19900307", "sex": "M", "address": "朝阳路1号 北京市 北京 100020 CHN", "phone": "13800000000",
        "visit_class": "I", "department_code": "0301", "doctor_code": "D123", "encounter_source_id": "V0001",
        "admit_time": "20240301110000", "discharge_time": "20240305090000",
        "PID.3.5": "MR", "PV1.44": "20240301110000", "ZZZ.1": None,
    }  # fmt: skip
    assert row["raw_message"] == "\r".join(ADT)
    assert json.loads(row["observations_json"]) == [
        {"set_id": "1", "value_type": "NM", "code": "2345-7", "name": "葡萄糖", "coding_system": "LN", "value": "6.1",
         "units": "mmol/L", "reference_range": "3.9-6.1", "abnormal_flag": "N", "status": "F",
         "observation_time": "20240301113000"}
    ]  # fmt: skip
    assert json.loads(row["diagnoses_json"]) == [
        {"set_id": "1", "code": "E11.9", "name": "2型糖尿病", "coding_system": "ICD10", "diagnosis_type": "A",
         "diagnosis_time": "20240301"}
    ]  # fmt: skip


def test_segments_json_shape(tmp_path):
    message = "MSH|^~\\&|A|B|||20240101||ORU^R01|1|P|2.5\rOBX|1|TX|c^n&x||line1\\.br\\line2~a\\T\\b\\F\\c||\r"
    segments = json.loads(as_dicts(read(tmp_path, message))[0]["segments_json"])
    assert [s["id"] for s in segments] == ["MSH", "OBX"]
    msh, obx = segments[0]["fields"], segments[1]["fields"]
    assert msh[0] == [[["|"]]] and msh[1] == [[["^~\\&"]]] and msh[8] == [[["ORU"], ["R01"]]]  # fields[n-1] is MSH-n
    assert obx[2] == [[["c"], ["n", "x"]]]  # OBX-3: one repetition, components, subcomponents
    assert obx[4] == [[["line1\nline2"]], [["a&b|c"]]]  # repetitions; escapes decoded
    assert obx[5] == [[[""]]]  # empty field keeps the full depth
    assert all(isinstance(sub, str) for s in segments for f in s["fields"] for r in f for c in r for sub in c)


@pytest.mark.parametrize("terminator", ["\r", "\n", "\r\n"])
def test_segment_terminators_are_equivalent(tmp_path, terminator):
    reference = read(tmp_path, "\r".join(ADT) + "\r")
    parsed = read(tmp_path, "\ufeff" + terminator.join(ADT * 1) + terminator + terminator.join(ADT) + terminator)
    assert parsed.rows == reference.rows * 2 and parsed.rejected == []


# ---- batches ----------------------------------------------------------------------------------
def batch(*parts: str) -> str:
    return "\r".join(parts) + "\r"


MSG_A, MSG_B = "\r".join(ADT), "\r".join(ADT).replace("MSG0001", "MSG0002")


def test_batch_counts_agree(tmp_path):
    parsed = read(
        tmp_path, batch("FHS|^~\\&|HIS", "BHS|^~\\&|HIS", MSG_A, MSG_B, "BTS|2", "BHS|^~\\&", MSG_A, "BTS|1", "FTS|2")
    )
    assert len(parsed.rows) == 3 and parsed.warnings == [] and parsed.rejected == []


def test_batch_counts_disagree(tmp_path):
    parsed = read(tmp_path, batch("FHS|^~\\&|HIS", "BHS|^~\\&|HIS", MSG_A, MSG_B, "BTS|3", "FTS|4"))
    assert len(parsed.rows) == 2
    assert parsed.warnings == ["BTS-1 batch message count is 3 but 2 found", "FTS-1 file batch count is 4 but 1 found"]


def test_batch_without_header_counts_loose_messages(tmp_path):
    parsed = read(tmp_path, batch(MSG_A, MSG_B, "BTS|2"))
    assert len(parsed.rows) == 2 and parsed.warnings == []


# ---- malformed messages -----------------------------------------------------------------------
def with_segment(index: int, segment: str) -> str:
    segments = list(ADT)
    segments[index] = segment
    return "\r".join(segments)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (with_segment(3, "PI|1||X"), "segment 4 'PI' is not a valid segment id"),
        (with_segment(2, "pid|1||X"), "segment 3 'pid' is not a valid segment id"),
        (with_segment(0, "MSH|^~\\&|HIS|H001|||20240301||||P|2.5"), "MSH-9 message type missing"),
        (with_segment(0, "MSH|^~\\&|HIS|H001|||20240301||ADT^A01||P|2.5"), "MSH-10 message control id missing"),
        (
            with_segment(0, "MSH|^~|HIS|H001|||20240301||ADT^A01|1|P|2.5"),
            "MSH-2 encoding characters '^~' are not valid",
        ),
        (with_segment(0, "MSHA^~\\&A"), "MSH-1 field separator 'A' is not valid"),
        ("MSH|^~\\&|HIS|H001|||20240301||ADT^A01|1|P|2.5", "message has no segment after MSH"),
        (with_segment(2, "BTS|1"), "segment 3 'BTS' is a batch/file envelope segment inside the message"),
    ],
)
def test_malformed_message_is_rejected(tmp_path, message, reason):
    parsed = read(tmp_path, batch(MSG_A, message, MSG_B))
    assert parsed.row_numbers == [1, 3]
    assert len(parsed.rejected) == 1 and parsed.rejected[0].row_number == 2
    assert parsed.rejected[0].reason.startswith(reason)
    assert parsed.rejected[0].raw_text == message


def test_text_before_first_msh_is_a_rejected_record(tmp_path):
    parsed = read(tmp_path, batch("garbage line", "EVN|A01", MSG_A))
    assert parsed.row_numbers == [2]
    assert [(r.row_number, r.raw_text) for r in parsed.rejected] == [(1, "garbage line\rEVN|A01")]
    assert "before the first MSH" in parsed.rejected[0].reason


def test_undecodable_bytes_reject_only_that_message(tmp_path):
    bad = MSG_B.encode("utf-8").replace("张".encode(), b"\xd5\xc5")  # GBK bytes in a UTF-8 message
    parsed = read(tmp_path, MSG_A.encode("utf-8") + b"\r" + bad + b"\r")
    assert parsed.row_numbers == [1]
    assert [(r.row_number, r.reason) for r in parsed.rejected] == [(2, "invalid UTF-8 bytes (MSH-18 'UNICODE UTF-8')")]
    assert "\\xd5\\xc5" in parsed.rejected[0].raw_text


@pytest.mark.parametrize(("charset", "codec"), [("GB 18030-2000", "gb18030"), ("GBK", "gbk"), ("8859/1", "latin-1")])
def test_msh18_character_set_is_honoured(tmp_path, charset, codec):
    name = "Zoë^Brontë" if codec == "latin-1" else "张^三"
    message = f"MSH|^~\\&|HIS|H001|||20240301||ADT^A01|1|P|2.5|||||CHN|{charset}\rPID|1||P1||{name}"
    parsed = read(tmp_path, message.encode(codec) + b"\r")
    assert parsed.rejected == [] and as_dicts(parsed)[0]["name"] == name.replace("^", " " if codec == "latin-1" else "")


def test_source_encoding_is_the_default_charset(tmp_path):
    message = MSG_A.replace("|CHN|UNICODE UTF-8", "")
    assert read(tmp_path, message.encode("gb18030"), encoding="gb18030").rejected == []
    assert read(tmp_path, message.encode("gb18030")).rejected[0].reason == "invalid UTF-8 bytes"


def test_unknown_charset_warns_and_reads_utf8(tmp_path):
    parsed = read(tmp_path, MSG_A.replace("UNICODE UTF-8", "KLINGON"))
    assert len(parsed.rows) == 1 and parsed.warnings == ["MSH-18 character set 'KLINGON' is unknown; read as utf-8"]


def test_unknown_column_reference_warns(tmp_path):
    parsed = read(tmp_path, MSG_A, {"patient name": "name"})
    assert parsed.columns == list(COLUMNS) and "neither an extracted HL7 field" in parsed.warnings[0]


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "empty file"), (b" \r\n", "empty file"), (b"PID|1||X\rPV1|1|I\r", "no MSH segment")]
)
def test_unreadable_files(tmp_path, content, reason):
    with pytest.raises(UnreadableFile, match=reason) as info:
        read(tmp_path, content)
    assert len(info.value.records) == (2 if content.strip() else 0)
