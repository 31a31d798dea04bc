"""The CSV reader on the inputs hospitals really send: encodings, BOMs, broken rows."""

from __future__ import annotations

import codecs

import pytest

from carelake.registry import SourceSpec
from carelake.sources.base import UnreadableFile
from carelake.sources.csv import read_csv


def make_source(**csv_options) -> SourceSpec:
    return SourceSpec.model_validate(
        {"id": "t", "name": "t", "kind": "hospital", "format": "csv", "csv": csv_options,
         "entities": {"patients": {"path": "x/*.csv"}}}
    )


def read(tmp_path, data: bytes, **options):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    source = make_source(**options)
    return read_csv(path, source, source.entities["patients"])


def test_records_rows_and_line_numbers(tmp_path):
    parsed = read(tmp_path, b'id,name,note\n1,Ann,ok\n2,"Bob","two\nlines"\n\n3,Cy,\n')
    assert parsed.columns == ["id", "name", "note"]
    assert parsed.good_rows() == [("1", "Ann", "ok"), ("2", "Bob", "two\nlines"), ("3", "Cy", None)]
    assert parsed.row_numbers == [2, 3, 6]  # record 2 spans lines 3-4, line 5 is blank
    assert parsed.records_read == 3 and not parsed.rejected


def test_wrong_field_count_is_rejected_with_row_and_raw_text(tmp_path):
    parsed = read(tmp_path, b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    assert [(r.row_number, r.raw_text, r.reason) for r in parsed.rejected] == [
        (3, "4,5", "expected 3 fields, found 2"),
        (4, "6,7,8,9", "expected 3 fields, found 4"),
    ]
    assert parsed.records_read == 4


def test_utf8_bom_is_stripped_from_header(tmp_path):
    parsed = read(tmp_path, codecs.BOM_UTF8 + "编号,姓名\n1,张三\n".encode())
    assert parsed.columns == ["编号", "姓名"] and parsed.good_rows() == [("1", "张三")]


def test_gb18030_with_invalid_bytes_rejects_only_bad_records(tmp_path):
    good = "患者编号,姓名\n1,张三\n".encode("gb18030")
    bad = b"2,\x81\x20bad\n"  # 0x81 0x20 is not a valid GB18030 sequence
    tail = "3,李四\n".encode("gb18030")
    parsed = read(tmp_path, good + bad + tail, encoding="gb18030")
    assert parsed.good_rows() == [("1", "张三"), ("3", "李四")]
    assert len(parsed.rejected) == 1
    rejected = parsed.rejected[0]
    assert rejected.row_number == 3 and rejected.reason == "invalid bytes for encoding gb18030"
    assert "\\x81" in rejected.raw_text


def test_gb18030_file_declared_utf8_fails_clearly(tmp_path):
    with pytest.raises(UnreadableFile, match="not valid utf-8") as info:
        read(tmp_path, "患者编号,姓名\n1,张三\n".encode("gb18030"))
    assert len(info.value.records) == 2  # header and row kept for quarantine


def test_nul_bytes_are_rejected(tmp_path):
    parsed = read(tmp_path, b"a,b\n1,x\x00y\n2,z\n")
    assert parsed.good_rows() == [("2", "z")]
    assert parsed.rejected[0].row_number == 2 and parsed.rejected[0].reason == "NUL byte in record"


def test_truncated_file_keeps_complete_records(tmp_path):
    parsed = read(tmp_path, b'a,b,c\n1,2,3\n4,"unterminated')
    assert parsed.good_rows() == [("1", "2", "3")]
    assert parsed.rejected[0].row_number == 3 and parsed.rejected[0].reason.startswith("expected 3 fields, found 2")


def test_empty_and_binary_files_are_unreadable(tmp_path):
    with pytest.raises(UnreadableFile, match="empty file"):
        read(tmp_path, b"")
    with pytest.raises(UnreadableFile, match="binary"):
        read(tmp_path, bytes(range(0, 32)) * 40)


def test_semicolon_utf16_and_null_tokens(tmp_path):
    parsed = read(tmp_path, "id;名字;x\n1;王五;NULL\n".encode("utf-16"), encoding="utf-16", delimiter=";")
    assert parsed.columns == ["id", "名字", "x"] and parsed.good_rows() == [("1", "王五", None)]


def test_tab_delimiter_spelled_as_backslash_t():
    assert make_source(delimiter="\\t").csv.delimiter == "\t"


def test_vectorised_path_agrees_with_the_line_by_line_path(tmp_path, monkeypatch):
    import carelake.sources.csv as csv_reader

    text = 'id,name,note\r\n1,Ann,"a, quoted"\r\n\r\n2,,NA\r\n3,"Li ""Lee""",x\r\n'
    fast = read(tmp_path, text.encode("gb18030"), encoding="gb18030")
    assert fast.table is not None  # clean single-line records take the pyarrow path
    monkeypatch.setattr(csv_reader, "_read_vectorised", lambda *a: None)
    exact = read(tmp_path, text.encode("gb18030"), encoding="gb18030")
    assert exact.table is None
    assert fast.good_rows() == exact.good_rows() == [("1", "Ann", "a, quoted"), ("2", None, None), ("3", 'Li "Lee"', "x")]
    assert fast.row_numbers == exact.row_numbers == [2, 4, 5]


def test_single_column_whitespace_line_is_blank(tmp_path):
    parsed = read(tmp_path, b"id\n1\n   \n2\n")
    assert parsed.good_rows() == [("1",), ("2",)] and parsed.row_numbers == [2, 4]
