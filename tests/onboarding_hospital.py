"""A small hospital in a layout carelake.generate never writes, for the onboarding tests.

UTF-8 with a BOM, ';' delimiters, CRLF, day-first dates (dd.MM.yyyy, dd.MM.yyyy HH:mm), English abbreviations
as headers, diagnosis texts with embedded newlines (quoted), and one visit record with a field too many (the
quarantine must take it). ``write_hospital`` returns what it wrote, so the tests compute their expectations
from it instead of hard-coding them.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

SOURCE_ID = "h90_lakeside"
EXTRACT_DATE = "2026-10-15"
FILES = {
    "patients": ("patient_master.csv", ["PAT_NO", "ID_CARD_NO", "PATIENT_NAME", "GENDER", "DOB", "MOBILE", "HOME_ADDRESS", "LAST_UPDATED"]),
    "encounters": ("visits.csv", ["VISIT_NO", "PAT_NO", "VISIT_TYPE", "ADMISSION_DATE", "DISCHARGE_DATE", "DEPT_CODE", "DOCTOR_ID", "LAST_UPDATED"]),
    "diagnoses": ("dx_list.csv", ["DX_ID", "VISIT_NO", "PAT_NO", "ICD10", "DX_NAME", "DX_TYPE", "DX_DATE"]),
}
# the mapping a person writes by hand for these files (what `suggest` is measured against)
EXPECTED_MAPPING = {
    "patients": {"PAT_NO": "patient_source_id", "ID_CARD_NO": "id_number", "PATIENT_NAME": "name", "GENDER": "sex",
                 "DOB": "birth_date", "MOBILE": "phone", "HOME_ADDRESS": "address", "LAST_UPDATED": "updated_at"},
    "encounters": {"VISIT_NO": "encounter_source_id", "PAT_NO": "patient_source_id", "VISIT_TYPE": "visit_type",
                   "ADMISSION_DATE": "admit_time", "DISCHARGE_DATE": "discharge_time", "DEPT_CODE": "department_code",
                   "DOCTOR_ID": "doctor_code", "LAST_UPDATED": "updated_at"},
    "diagnoses": {"DX_ID": "diagnosis_source_id", "VISIT_NO": "encounter_source_id", "PAT_NO": "patient_source_id",
                  "ICD10": "diagnosis_code", "DX_NAME": "diagnosis_name", "DX_TYPE": "diagnosis_type",
                  "DX_DATE": "diagnosis_time"},
}
DIAGNOSES = [("I10", "Essential hypertension"), ("E11.9", "Type 2 diabetes mellitus\nwithout complications"),
             ("J45.909", "Asthma, uncomplicated"), ("K21.9", "Gastro-oesophageal reflux disease"),
             ("M54.5", "Low back pain")]
FIRST = ["Anna", "Lukas", "Mia", "Jonas", "Lea", "Felix", "Emma", "Paul", "Lina", "Elias"]
LAST = ["Keller", "Brandt", "Vogt", "Winter", "Hartmann", "Lorenz", "Seidel", "Frank"]


@dataclass
class WrittenHospital:
    folder: Path
    patients: list[str] = field(default_factory=list)
    encounters: list[str] = field(default_factory=list)  # well-formed visits
    diagnoses: list[str] = field(default_factory=list)
    rejected_visits: list[str] = field(default_factory=list)  # records the ingest must quarantine

    def records(self) -> dict[str, int]:
        return {"patients": len(self.patients), "encounters": len(self.encounters) + len(self.rejected_visits),
                "diagnoses": len(self.diagnoses)}


def _resident_id(rng: random.Random, birth: date, male: bool) -> str:
    from carelake.generate.resident_id import make

    return make("110105", birth, male, rng)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def write_hospital(landing_root: Path, patients: int = 30, seed: int = 5) -> WrittenHospital:
    rng = random.Random(seed)
    folder = Path(landing_root) / SOURCE_ID / EXTRACT_DATE
    folder.mkdir(parents=True, exist_ok=True)
    out = WrittenHospital(folder)
    stamp = datetime(2026, 10, 14, 18, 0)
    fmt_d, fmt_ts = "%d.%m.%Y", "%d.%m.%Y %H:%M"
    patient_rows, visit_rows, dx_rows = [], [], []
    for p in range(1, patients + 1):
        male = p % 2 == 1
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60))
        pat_no = f"LK{p:05d}"
        out.patients.append(pat_no)
        patient_rows.append([pat_no, _resident_id(rng, birth, male), f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                             "M" if male else "F", birth.strftime(fmt_d), f"139{rng.randrange(10**7, 10**8)}",
                             f"{rng.randrange(1, 99)} Lakeside Road", stamp.strftime(fmt_ts)])
        for v in range(rng.randint(2, 4)):
            visit_no = f"V{p:05d}{v}"
            admit = datetime(2026, 9, 1, 8) + timedelta(hours=rng.randrange(0, 24 * 40))
            inpatient = rng.random() < 0.3
            discharge = admit + (timedelta(days=rng.randint(1, 6)) if inpatient else timedelta(hours=1))
            visit_rows.append([visit_no, pat_no, "I" if inpatient else "O", admit.strftime(fmt_ts), discharge.strftime(fmt_ts),
                               f"D{rng.randint(1, 5):02d}", f"DR{rng.randint(1, 9):03d}", stamp.strftime(fmt_ts)])
            out.encounters.append(visit_no)
            for d in range(rng.randint(1, 2)):
                code, name = rng.choice(DIAGNOSES)
                dx_id = f"{visit_no}-{d}"
                dx_rows.append([dx_id, visit_no, pat_no, code, name, "primary" if d == 0 else "secondary",
                                (admit + timedelta(minutes=30)).strftime(fmt_ts)])
                out.diagnoses.append(dx_id)
    # one record the reader must reject: a field too many
    bad = list(visit_rows[3]) + ["unexpected"]
    bad[0] = "V_BAD_1"
    visit_rows.insert(5, bad)
    out.rejected_visits.append("V_BAD_1")
    for entity, rows in (("patients", patient_rows), ("encounters", visit_rows), ("diagnoses", dx_rows)):
        name, header = FILES[entity]
        _write(folder / name, header, rows)
    return out


def accepted_entry(suggested: dict) -> dict:
    """The entry after review: a person names the source, its organisation and region, and schedules it `once`
    (the onboarding backfill: one extract, so no "missing daily file" for the days before and after it)."""
    return {**suggested, "name": "Lakeside Clinic (onboarded)", "organization": "H90", "region": "110105", "schedule": "once",
            "description": "Onboarded by profile -> suggest -> check (tests/onboarding_hospital.py)."}
