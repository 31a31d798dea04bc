"""Imaging studies of the synthetic hospitals: a PACS export of header-only DICOM files, with ground truth.

Every hospital of kind ``hospital`` has a PACS (source ``<hospital>_pacs``, format ``dicom``). A share of its
new visits gets one imaging study (1-2 series of 1-3 instances), drawn from a random stream of its own
(``<seed>:<hospital>:imaging``, per follow-on day ``...:imaging:day<k>``) before the defects are planted, so
every other file is byte-identical with or without imaging. Each instance is a small DICOM Part 10 file with
file meta information and no pixel data, at ``<pacs>/<visit date>/<visit id>/SE<nn>/IM<nnnn>.dcm``.

How a study links back: PatientID (0010,0020) is the hospital's own patient number (the MRN its HIS or ADT feed
sends, so the MPI resolves it) and AccessionNumber (0008,0050) is the visit number (the RIS order carries the
visit). The patient's name is written as a DICOM person name (family^given) in UTF-8 (``ISO_IR 192``); the study time is
the visit's local time.

Per hospital, on its first day with a study, two bad files are planted in that study's series: a text file
named like an instance (``not_dicom``) and a copy of the study's first instance cut inside its Study Instance
UID (``truncated``). Both must end in quarantine.

Truth (``<out_dir>/_truth/``):

* ``imaging.csv``            source_id, file, extract_date, study_instance_uid, series_instance_uid,
  sop_instance_uid, modality, body_part, encounter_source_id, patient_source_id, patient_name
* ``imaging_bad_files.csv``  source_id, file, extract_date, defect (not_dicom | truncated)
"""

from __future__ import annotations

import io
import random
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from carelake.generate.truth import write_table

# (modality, body part examined, study description, SOP class UID)
EXAMS = (
    ("CT", "CHEST", "CT chest", "1.2.840.10008.5.1.4.1.1.2"),
    ("CT", "HEAD", "CT head", "1.2.840.10008.5.1.4.1.1.2"),
    ("DX", "CHEST", "Chest X-ray", "1.2.840.10008.5.1.4.1.1.1.1"),
    ("MR", "BRAIN", "MRI brain", "1.2.840.10008.5.1.4.1.1.4"),
    ("US", "ABDOMEN", "Abdominal ultrasound", "1.2.840.10008.5.1.4.1.1.6.1"),
)
EQUIPMENT = (("GE Healthcare", "CT01"), ("Siemens Healthineers", "MR01"), ("United Imaging", "DR01"), ("Mindray", "US01"))
# share of new visits imaged, by visit type
IMAGING_SHARE = {"inpatient": 0.4, "emergency": 0.3, "outpatient": 0.06}
BAD_FILES = ("not_dicom", "truncated")


def pacs_source_id(hospital) -> str | None:
    """The PACS source of a hospital (kind ``hospital``); None for the others (a primary care centre has none)."""
    return f"{hospital.base_id}_pacs" if hospital.kind == "hospital" else None


class ImageEntry(NamedTuple):
    source_id: str
    file: str  # relative to out_dir, POSIX separators
    extract_date: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str
    modality: str
    body_part: str
    encounter_source_id: str
    patient_source_id: str
    patient_name: str  # as written: DICOM person name family^given


class BadImageFile(NamedTuple):
    source_id: str
    file: str
    extract_date: str
    defect: str  # one of BAD_FILES


class ImagingWriter:
    """Writes one hospital's PACS export day by day (``days``), noting every file in ``images`` / ``bad_files``."""

    def __init__(self, hospital, extracts, persons: dict, doctors: list[dict]):
        self.h = hospital
        self.source_id = pacs_source_id(hospital)
        self.extracts = extracts  # carelake.generate.extracts.ExtractWriter: placement and only_dates
        self.persons = persons  # patient_source_id -> carelake.generate.population.Person
        self.doctors = {d["doctor_code"]: d for d in doctors}
        self.seen: set[str] = set()  # visit ids already considered (a later discharge update is the same visit)
        self.images: list[ImageEntry] = []
        self.bad_files: list[BadImageFile] = []

    def days(self, days: list[dict], rng: random.Random, first_day: int = 0) -> None:
        for index, day in enumerate(days, start=first_day):
            for encounter in day["encounters"]:
                if encounter["encounter_source_id"] in self.seen:
                    continue
                self.seen.add(encounter["encounter_source_id"])
                if rng.random() < IMAGING_SHARE.get(encounter["visit_type"], 0):
                    self._study(encounter, index, rng)

    def _study(self, encounter: dict, day: int, rng: random.Random) -> None:
        from pydicom.uid import generate_uid

        modality, body_part, description, sop_class = rng.choice(EXAMS)
        manufacturer, station = rng.choice(EQUIPMENT)
        person = self.persons[encounter["patient_source_id"]]
        started = encounter["admit_time"] + timedelta(minutes=rng.randint(20, 120))
        visit = encounter["encounter_source_id"]
        study_uid = generate_uid(entropy_srcs=[self.h.base_id, visit, "study"])
        study = {
            "AccessionNumber": visit, "StudyInstanceUID": study_uid, "StudyID": f"{len(self.seen):06d}",
            "Modality": modality, "BodyPartExamined": body_part, "StudyDescription": description,
            "StudyDate": started.strftime("%Y%m%d"), "StudyTime": started.strftime("%H%M%S"),
            "ReferringPhysicianName": self.doctors.get(encounter["doctor_code"], {}).get("name"),
            "InstitutionName": self.h.name, "Manufacturer": manufacturer, "StationName": station,
            "PatientID": encounter["patient_source_id"], "PatientName": f"{person.surname}^{person.given_name}",
            "PatientBirthDate": person.birth_date.strftime("%Y%m%d"), "PatientSex": person.sex,
        }
        first_file = None
        for series_number in range(1, rng.randint(1, 2) + 1):
            series_uid = generate_uid(entropy_srcs=[study_uid, str(series_number)])
            for instance_number in range(1, rng.randint(1, 3) + 1):
                sop_uid = generate_uid(entropy_srcs=[series_uid, str(instance_number)])
                name = f"{visit}/SE{series_number:02d}/IM{instance_number:04d}.dcm"
                path, relative, extract_date = self.extracts.place(self.source_id, day, name)
                data = instance_bytes({**study, "SeriesInstanceUID": series_uid, "SeriesNumber": series_number,
                                       "SeriesDescription": f"{description} series {series_number}",
                                       "InstanceNumber": instance_number, "SOPInstanceUID": sop_uid,
                                       "SOPClassUID": sop_class})
                _write(path, data)
                first_file = first_file or (data, study_uid)
                self.images.append(ImageEntry(self.source_id, relative, extract_date, study_uid, series_uid, sop_uid,
                                              modality, body_part, visit, encounter["patient_source_id"],
                                              study["PatientName"]))
        if not self.bad_files:
            self._plant_bad_files(visit, day, *first_file)

    def _plant_bad_files(self, visit: str, day: int, data: bytes, study_uid: str) -> None:
        cut = data.index(study_uid.encode("ascii")) + len(study_uid) // 2  # inside the Study Instance UID's value
        contents = {"not_dicom": f"PACS export interrupted for {visit}: connection reset\n".encode("ascii"),
                    "truncated": data[:cut]}
        for number, defect in enumerate(BAD_FILES, start=9001):
            path, relative, extract_date = self.extracts.place(self.source_id, day, f"{visit}/SE01/IM{number:04d}.dcm")
            _write(path, contents[defect])
            self.bad_files.append(BadImageFile(self.source_id, relative, extract_date, defect))


def instance_bytes(elements: dict) -> bytes:
    """A header-only DICOM Part 10 file (preamble, file meta, explicit VR little endian; no pixel data)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filewriter import dcmwrite
    from pydicom.uid import ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = elements["SOPClassUID"]
    meta.MediaStorageSOPInstanceUID = elements["SOPInstanceUID"]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SpecificCharacterSet = "ISO_IR 192"
    for keyword, value in elements.items():
        if value is not None:
            setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def _write(path: Path | None, data: bytes) -> None:
    if path is None:  # a date not wanted (only_dates)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_truth(truth_dir: Path, writers: list[ImagingWriter]) -> None:
    write_table(truth_dir / "imaging.csv", ImageEntry._fields, [i for w in writers for i in w.images])
    write_table(truth_dir / "imaging_bad_files.csv", BadImageFile._fields, [b for w in writers for b in w.bad_files])
