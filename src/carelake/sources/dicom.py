"""DICOM (Part 10 files): the header of one file is one record; pixel data is never read.

A PACS export lands a folder of DICOM files, one SOP instance (an image, a structured report, an RT plan...)
per file. The reader takes the header elements in :data:`HEADER` (study, series and instance UIDs, modality,
body part, study date and time, accession number, referring physician, institution, patient id, name and
birth date...) with ``pydicom.dcmread(stop_before_pixels=True)``: reading stops at the pixel data element,
whose bytes are never loaded. Text is decoded with the file's Specific Character Set (pydicom does it; a
person name is kept in its DICOM form ``family^given=ideographic=phonetic``). A missing or empty element is
``None``; a multi-valued one is joined with a backslash, as DICOM writes it.

The source-side column names are the DICOM keywords (``PatientID``, ``StudyInstanceUID``...); the registry
maps them onto the canonical names of entity ``imaging_instances`` (metadata/entities.yml).

A file that is not DICOM Part 10 (no ``DICM`` prefix: a text file, a raw data set without file meta
information), that pydicom cannot parse, or that is truncated (an element or the pixel data ends past the end
of the file) raises :class:`UnreadableFile`; its one record (the file, described by its size and first bytes)
goes to quarantine with the reason, so every landed file ends in bronze or quarantine.
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

from carelake.sources.base import ParsedFile, Rejected, UnreadableFile

# DICOM keyword -> canonical bronze column of entity imaging_instances (metadata/entities.yml): the
# registry entries of DICOM sources map with it (carelake.generate.registry_entries, metadata/sources.yml)
CANONICAL = {
    "SOPClassUID": "sop_class_uid", "SOPInstanceUID": "sop_instance_uid", "StudyInstanceUID": "study_instance_uid",
    "SeriesInstanceUID": "series_instance_uid", "StudyID": "study_id", "AccessionNumber": "accession_number",
    "Modality": "modality", "BodyPartExamined": "body_part", "StudyDate": "study_date", "StudyTime": "study_time",
    "SeriesDate": "series_date", "SeriesTime": "series_time", "StudyDescription": "study_description",
    "SeriesNumber": "series_number", "SeriesDescription": "series_description", "InstanceNumber": "instance_number",
    "ReferringPhysicianName": "referring_physician_name", "InstitutionName": "institution_name",
    "Manufacturer": "manufacturer", "StationName": "station_name", "PatientID": "patient_source_id",
    "PatientName": "patient_name", "PatientBirthDate": "birth_date", "PatientSex": "sex",
    "SpecificCharacterSet": "specific_character_set",
    # file meta information (group 0002)
    "TransferSyntaxUID": "transfer_syntax_uid", "MediaStorageSOPClassUID": "media_storage_sop_class_uid",
    "MediaStorageSOPInstanceUID": "media_storage_sop_instance_uid",
}
META = ("TransferSyntaxUID", "MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID")
HEADER = tuple(keyword for keyword in CANONICAL if keyword not in META)
COLUMNS = list(CANONICAL)

_UNDEFINED_LENGTH = 0xFFFFFFFF
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"  # (FFFE,E0DD), length 0: encapsulation is always little endian
_PREVIEW_BYTES = 32
_PIXEL_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN")


def read_dicom(path: Path, source, entity) -> ParsedFile:
    """One row of header values for the DICOM file at ``path`` (see the module docstring)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(handle, stop_before_pixels=True, force=False)
            pixel_header = handle.read(12)  # the pixel data element's header, where reading stopped (if any)
            problem = truncation(dataset, pixel_header, handle.tell() - len(pixel_header), path, size)
            values = {keyword: _text(dataset, keyword) for keyword in HEADER} if not problem else {}
        except InvalidDicomError as exc:
            raise _unreadable(path, size, f"not a DICOM Part 10 file: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any parse failure of this one file is a reason to quarantine it
            raise _unreadable(path, size, f"DICOM header cannot be read: {type(exc).__name__}: {exc}") from None
        if problem:  # checked before any value is decoded: decoding converts the raw elements it looks at
            raise _unreadable(path, size, f"truncated DICOM file: {problem}")
    values.update({keyword: _text(dataset.file_meta, keyword) for keyword in META})
    # a file without the instance UIDs in its data set (e.g. a DICOMDIR) still names them in its file meta
    values["SOPInstanceUID"] = values["SOPInstanceUID"] or values["MediaStorageSOPInstanceUID"]
    values["SOPClassUID"] = values["SOPClassUID"] or values["MediaStorageSOPClassUID"]
    parsed = ParsedFile(columns=list(COLUMNS))
    parsed.add_row(1, tuple(values[column] for column in COLUMNS))
    parsed.warnings = sorted({f"{path.name}: {w.message}" for w in caught})
    return parsed


def truncation(dataset, pixel_header: bytes, pixel_offset: int, path: Path, size: int) -> str | None:
    """Why the file read into ``dataset`` is cut short, or None.

    pydicom stops quietly at the end of the file, so a truncated file reads as a shorter data set: an
    element still holding its raw value shorter than its declared length, a file meta group longer than
    the file, or pixel data (whose header starts at ``pixel_offset``) reaching past ``size`` bytes.
    """
    meta_length = dataset.file_meta.get("FileMetaInformationGroupLength")
    meta_end = 132 + 12 + int(meta_length) if meta_length is not None else 0  # preamble, prefix, the length element
    if meta_end > size:
        return f"file meta information ends at byte {meta_end}, the file has {size} bytes"
    if not any(True for _ in dataset.keys()):
        return "no data set after the file meta information"
    for tag, element in dataset._dict.items():  # raw elements not yet converted: value shorter than its length
        length, value = getattr(element, "length", None), getattr(element, "value", None)
        if isinstance(value, bytes) and length not in (None, _UNDEFINED_LENGTH) and len(value) < length:
            return f"element {tag} declares {length} bytes, the file holds {len(value)}"
    if len(pixel_header) < 8 or _is_deflated(dataset):
        return None
    # the element's own bytes say how it is encoded (a file may declare explicit VR and be implicit)
    endian = "<" if pixel_header[:2] == b"\xe0\x7f" else ">"
    if pixel_header[4:6] in _PIXEL_VRS:
        header_length, (length,) = 12, struct.unpack(endian + "I", pixel_header[8:12])
    else:
        header_length, (length,) = 8, struct.unpack(endian + "I", pixel_header[4:8])
    if length == _UNDEFINED_LENGTH:  # encapsulated frames end with a sequence delimitation item
        return None if _ends_with_delimiter(path, size) else "encapsulated pixel data without its sequence delimiter"
    end = pixel_offset + header_length + length
    return f"pixel data ends at byte {end}, the file has {size} bytes" if end > size else None


def _ends_with_delimiter(path: Path, size: int, window: int = 256) -> bool:
    """Whether the sequence delimitation item (FFFE,E0DD) is among the file's last bytes (padding may follow it)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, size - window))
        return _SEQUENCE_DELIMITER in handle.read()


def _is_deflated(dataset) -> bool:
    return bool(getattr(dataset.file_meta.get("TransferSyntaxUID"), "is_deflated", False))


def _text(dataset, keyword: str) -> str | None:
    """An element's value as text: None when absent or empty, multi-values joined with a backslash."""
    if keyword not in dataset:
        return None
    value = dataset[keyword].value
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):  # an undecoded or binary value: not a header text field
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        parts = [str(v) for v in value]
        text = "\\".join(parts)
    else:
        text = str(value)
    text = text.strip().strip("\x00").strip()
    return text or None


def _unreadable(path: Path, size: int, reason: str) -> UnreadableFile:
    """The whole file as one quarantine record: its name, size and first bytes, with the reason."""
    with open(path, "rb") as handle:
        head = handle.read(_PREVIEW_BYTES)
    raw = f"{path.name} ({size} bytes) starts {head.hex(' ')}"
    return UnreadableFile(reason, [Rejected(1, raw, reason)])
