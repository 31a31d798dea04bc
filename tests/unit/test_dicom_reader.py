"""The DICOM reader on pydicom's own test files: every file is a row or an UnreadableFile with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from carelake.registry import pydicom_data_dir
from carelake.sources import UnreadableFile, get_reader
from carelake.sources.dicom import COLUMNS, read_dicom

DATA = pydicom_data_dir()
FILES = sorted(p for p in DATA.glob("*_files/**/*") if p.is_file())
# not DICOM Part 10 (text, JSON, dumps, gzip, ICC profile, data sets without file meta) and cut short
REFUSED = {
    "charset_files/FileInfo.txt", "test_files/README.txt", "test_files/dicomdirtests/README.txt",
    "test_files/dicomdirtests/TINY_ALPHA/README", "test_files/test1.json", "test_files/test_PN.json",
    "test_files/rtplan.dump", "test_files/rtstruct.dump", "test_files/zipMR.gz", "test_files/crayons.icc",
    "test_files/no_meta.dcm", "test_files/rtstruct.dcm", "test_files/ExplVR_BigEndNoMeta.dcm",
    "test_files/ExplVR_LitEndNoMeta.dcm", "test_files/MR_truncated.dcm", "test_files/rtplan_truncated.dcm",
}


def _row(path: Path) -> dict:
    parsed = read_dicom(path, None, None)
    assert parsed.columns == COLUMNS and len(parsed.rows) == 1 and parsed.row_numbers == [1]
    return dict(zip(parsed.columns, parsed.rows[0]))


def test_every_pydicom_test_file_is_a_row_or_refused_with_a_reason():
    assert len(FILES) > 150
    refused = {}
    for path in FILES:
        try:
            _row(path)
        except UnreadableFile as exc:
            assert exc.reason and len(exc.records) == 1 and exc.records[0].reason == exc.reason
            assert path.name in exc.records[0].raw_text
            refused[str(path.relative_to(DATA))] = exc.reason
    assert set(refused) == REFUSED
    assert refused["test_files/MR_truncated.dcm"].startswith("truncated DICOM file: pixel data ends at byte")
    assert refused["test_files/rtplan_truncated.dcm"] == "truncated DICOM file: element (300A,00B0) declares 976 bytes, the file holds 711"
    assert refused["test_files/README.txt"].startswith("not a DICOM Part 10 file")


@pytest.mark.parametrize(("name", "patient_name", "charset"), [
    ("chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう", "\\ISO 2022 IR 87"),
    ("chrJapMulti.dcm", "やまだ^たろう", "\\ISO 2022 IR 87"),
    ("chrI2.dcm", "Hong^Gildong=洪^吉洞=홍^길동", "\\ISO 2022 IR 149"),
    ("chrX1.dcm", "Wang^XiaoDong=王^小東", "ISO_IR 192"),
    ("chrX2.dcm", "Wang^XiaoDong=王^小东", "GB18030"),
    ("chrGreek.dcm", "Διονυσιος", "ISO_IR 126"),
    ("chrRuss.dcm", "Люкceмбypг", "ISO_IR 144"),
    ("chrArab.dcm", "قباني^لنزار", "ISO_IR 127"),
    ("chrFren.dcm", "Buc^Jérôme", "ISO_IR 100"),
])
def test_names_are_decoded_with_the_files_character_set(name, patient_name, charset):
    row = _row(DATA / "charset_files" / name)
    assert (row["PatientName"], row["SpecificCharacterSet"]) == (patient_name, charset)


def test_header_fields_of_a_ct_image_and_missing_elements_are_none():
    row = _row(DATA / "test_files" / "CT_small.dcm")
    assert row["Modality"] == "CT" and row["PatientName"] == "CompressedSamples^CT1"
    assert row["StudyInstanceUID"] == "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    assert row["SOPInstanceUID"] == row["MediaStorageSOPInstanceUID"]
    assert row["StudyDate"] == "20040119" and row["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert row["BodyPartExamined"] is None  # absent: None, never an empty string
    dicomdir = _row(DATA / "test_files" / "dicomdirtests" / "DICOMDIR")
    assert dicomdir["StudyInstanceUID"] is None and dicomdir["SOPInstanceUID"]  # the UID from the file meta


def test_pixel_data_is_never_read(monkeypatch):
    """Reading stops before (7FE0,0010): pydicom's pixel data accessors are never called and no value holds it."""
    import pydicom.dataset

    def refuse(*_args, **_kwargs):
        raise AssertionError("pixel data was read")

    monkeypatch.setattr(pydicom.dataset.Dataset, "pixel_array", property(refuse))
    monkeypatch.setattr(pydicom.dataset.Dataset, "convert_pixel_data", refuse)
    size = (DATA / "test_files" / "MR_small.dcm").stat().st_size
    row = _row(DATA / "test_files" / "MR_small.dcm")
    assert row["Modality"] == "MR"
    assert all(value is None or len(value) < size // 10 for value in row.values())


def test_a_truncated_copy_and_a_text_file_are_refused_with_their_reason(tmp_path):
    data = (DATA / "test_files" / "CT_small.dcm").read_bytes()
    cuts = {"header": data.index(b"CompressedSamples") + 5, "pixels": len(data) - 1000, "meta": 180}
    reasons = {}
    for name, cut in cuts.items():
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(data[:cut])
        with pytest.raises(UnreadableFile) as exc:
            read_dicom(path, None, None)
        reasons[name] = exc.value.reason
    assert reasons["header"].startswith("truncated DICOM file: element (0010,0010) declares")
    # (7FE0,0010) OW of 32768 bytes with its 12-byte header at byte 6288; trailing elements follow it in the file
    assert reasons["pixels"] == f"truncated DICOM file: pixel data ends at byte 39068, the file has {len(data) - 1000} bytes"
    assert reasons["meta"].startswith("truncated DICOM file: file meta information ends at byte")
    text = tmp_path / "IM0001.dcm"
    text.write_text("PACS export interrupted\n", encoding="ascii")
    with pytest.raises(UnreadableFile, match="^not a DICOM Part 10 file") as exc:
        get_reader("dicom")(text, None, None)
    assert exc.value.records[0].raw_text.startswith("IM0001.dcm (24 bytes) starts 50 41 43 53")
