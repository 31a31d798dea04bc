"""What happens at one hospital, day by day, as canonical records.

Records are dicts keyed by the canonical bronze column names of
``metadata/entities.yml`` with typed values (``datetime``, ``date``,
``float``, ``str`` or ``None``); layouts render them. Keys starting with
``_`` are generator bookkeeping (``_en``: English alternatives of names,
``_person``: the true person, ``_test``: the LabTest), ``x_`` keys are
source extras with no canonical name.

Per day a hospital emits: patients registered that day, plus updates
(new phone, moved address) of patients registered earlier; the encounters
admitted that day with their diagnoses, prescriptions and lab results
(an inpatient stay is open, without discharge time, in its admission
extract; its discharge arrives as an updated encounter record on the
discharge day, when that day is generated);
master data as a full snapshot on the first day and only changes (a new
doctor, a promotion, a new device) afterwards.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from carelake.generate.layouts import Hospital
from carelake.generate.population import Person, PersonFactory
from carelake.generate.reference import (
    CLINICAL_DEPARTMENTS,
    DEPARTMENTS,
    DEVICES,
    DRUGS,
    EMERGENCY_DEPARTMENT,
    ICD10_DIAGNOSES,
    LAB_TESTS,
    TITLES,
)
from carelake.generate.truth import PersonEntry
from carelake.generate.variants import record_person

ENTITIES = ("patients", "encounters", "diagnoses", "prescriptions", "lab_results", "doctors", "departments", "devices")
ID_COLUMN = {
    "patients": "patient_source_id",
    "encounters": "encounter_source_id",
    "diagnoses": "diagnosis_source_id",
    "prescriptions": "prescription_source_id",
    "lab_results": "lab_result_source_id",
    "doctors": "doctor_code",
    "departments": "department_code",
    "devices": "device_code",
}
SECOND_VISIT_RATE = 0.10
UPDATE_RATE = 0.03
VISIT_TYPES = (("outpatient", 0.70), ("emergency", 0.12), ("inpatient", 0.18))
# diagnoses that make a drug or a lab test likely (index into DRUGS / LAB_TESTS by key or LOINC)
_DRUGS_FOR = {"E11.9": ("0001", "0007"), "I10": ("0002", "0012", "0011"), "E78.5": ("0003",), "I25.1": ("0004", "0016", "0003"),
              "J06.9": ("0010", "0015"), "J18.9": ("0014", "0005", "0017"), "J20.9": ("0006", "0015"), "J45.9": ("0013", "0020"),
              "K29.7": ("0008",), "E03.9": ("0018",), "B18.1": ("0019",), "M54.5": ("0009",), "R50.9": ("0010",)}
_LABS_FOR = {"E11.9": ("15074-8", "4548-4"), "N18.9": ("14682-9", "22664-7", "2823-3"), "E78.5": ("14647-2", "14927-8"),
             "J18.9": ("6690-2", "1988-5"), "K74.6": ("1742-6", "1920-8"), "B18.1": ("1742-6", "1920-8"), "D64.9": ("718-7",)}
_DRUG_BY_KEY = {d.key: d for d in DRUGS}
_TEST_BY_LOINC = {t.loinc: t for t in LAB_TESTS}

Day = dict[str, list[dict]]


@dataclass
class _Registration:
    person: Person
    patient_id: str
    day: int
    record: dict  # the current (clean) patient record


class HospitalSimulation:
    """Produces one hospital's canonical records for each extract day."""

    def __init__(self, hospital: Hospital, persons: list[Person], members: list[int], factory: PersonFactory,
                 doctor_pool: list[dict], start: date, days: int, seed: int):
        self.h = hospital
        self.rng = random.Random(f"{seed}:{hospital.base_id}")
        self.factory = factory
        self.start = start
        self.days = days
        self.seed = seed
        self.counters = dict.fromkeys(ENTITIES, 0)
        self.registrations = []
        for person_index in members:
            person = persons[person_index]
            patient_id, record = self._recorded(person)
            self.registrations.append(_Registration(person, patient_id, self.rng.randrange(days), record))
        self.person_keys = {reg.person.key for reg in self.registrations}
        self.discharges: dict[int, list[dict]] = {}  # day index -> discharge updates of stays admitted earlier
        self.departments = self._departments()
        clinical = [d for d in self.departments if d["department_type"] == "clinical"]
        per_department = max(2, min(12, len(members) // 150))
        self.doctors = [self._doctor(dept, doctor_pool) for dept in clinical for _ in range(per_department)]
        self.devices = [self._device() for _ in range(len(DEVICES))]

    def _recorded(self, person: Person) -> tuple[str, dict]:
        """This hospital's patient id and (clean) patient record of a person it registers."""
        recorded = record_person(person, self.factory, self.rng, self.h.layout.startswith("csv"))
        patient_id = self.h.patient_id(self._next("patients"))
        return patient_id, {
            "patient_source_id": patient_id, "id_number": recorded.id_number, "name": recorded.name,
            "sex": person.sex, "birth_date": person.birth_date, "phone": recorded.phone,
            "address": recorded.address.text, "region_code": recorded.address.region_code,
            "insurance_no": person.insurance_no, "death_date": None, "updated_at": None,
            "x_ethnicity": person.ethnicity, "_person": person.key, "_variations": recorded.variations,
        }

    # ---- ids ------------------------------------------------------------
    def _next(self, entity: str) -> int:
        self.counters[entity] += 1
        return self.counters[entity]

    def _id(self, entity: str, **context) -> str:
        return self.h.record_id(entity, self._next(entity), **context)

    # ---- master data ----------------------------------------------------
    def _departments(self) -> list[dict]:
        records = []
        for index, (name_zh, name_en, dept_type) in enumerate(DEPARTMENTS):
            records.append({"department_code": self._id("departments"), "department_name": name_zh,
                            "department_type": dept_type, "parent_code": None, "_index": index,
                            "_en": {"department_name": name_en}})
        return records

    def _doctor(self, dept: dict, doctor_pool: list[dict]) -> dict:
        rng = self.rng
        if doctor_pool and rng.random() < 0.1:  # practises at several hospitals (多点执业): same licence
            person = rng.choice(doctor_pool)
        else:
            male = rng.random() < 0.5
            person = {"name": rng.choice(self.factory.surnames) + rng.choice(self.factory.male_names if male else self.factory.female_names),
                      "sex": "M" if male else "F", "license_no": f"{rng.randrange(10**15):015d}", "phone": self.factory.phone(rng)}
            doctor_pool.append(person)
        title_zh, title_en = rng.choice(TITLES)
        return {"doctor_code": self._id("doctors"), "name": person["name"], "sex": person["sex"], "title": title_zh,
                "department_code": dept["department_code"], "specialty": dept["department_name"],
                "license_no": person["license_no"], "phone": person["phone"],
                "_en": {"title": title_en, "specialty": dept["_en"]["department_name"]}}

    def _device(self) -> dict:
        rng = self.rng
        name, device_type, manufacturer, model = rng.choice(DEVICES)
        dept = rng.choice(self.departments)
        return {"device_code": self._id("devices"), "device_name": name, "device_type": device_type,
                "manufacturer": manufacturer, "model": model, "serial_no": f"SN{rng.randrange(10**10):010d}",
                "department_code": dept["department_code"],
                "install_date": self.start - timedelta(days=rng.randint(30, 3650)), "_en": {}}

    def _master_changes(self, day: int, doctor_pool: list[dict]) -> tuple[list, list, list]:
        if day == 0:
            return list(self.doctors), list(self.departments), list(self.devices)
        clinical = [d for d in self.departments if d["department_type"] == "clinical"]
        hired = self._doctor(self.rng.choice(clinical), doctor_pool)
        self.doctors.append(hired)
        promoted_index = self.rng.randrange(len(self.doctors) - 1)
        title_zh, title_en = TITLES[max(0, TITLES.index(next(t for t in TITLES if t[0] == self.doctors[promoted_index]["title"])) - 1)]
        promoted = {**self.doctors[promoted_index], "title": title_zh, "_en": {**self.doctors[promoted_index]["_en"], "title": title_en}}
        self.doctors[promoted_index] = promoted
        device = self._device()
        device["install_date"] = self.start + timedelta(days=day)
        self.devices.append(device)
        return [hired, promoted], [], [device]

    # ---- clinical activity ----------------------------------------------
    def run(self, doctor_pool: list[dict]) -> list[Day]:
        rng = self.rng
        visits: list[list[_Registration]] = [[] for _ in range(self.days)]
        for reg in self.registrations:
            visits[reg.day].append(reg)
            if rng.random() < SECOND_VISIT_RATE:
                visits[rng.randrange(reg.day, self.days)].append(reg)
        return [self._day(day, visits[day], doctor_pool) for day in range(self.days)]

    def follow_on_day(self, day: int, newcomers: list[Person], doctor_pool: list[dict]) -> Day:
        """Day ``day`` (>= ``days``) after the simulated window, drawn from its own random stream so that
        each follow-on day is the same however many follow it: ``newcomers`` register and visit (persons
        new to the region or already registered at another hospital), earlier patients come back at the
        window's rate of second visits, stays admitted earlier are discharged, records are updated."""
        self.rng = random.Random(f"{self.seed}:{self.h.base_id}:day{day}")
        returning = [reg for reg in self.registrations if self.rng.random() < 2 * SECOND_VISIT_RATE / self.days]
        for person in newcomers:
            patient_id, record = self._recorded(person)
            self.registrations.append(_Registration(person, patient_id, day, record))
            self.person_keys.add(person.key)
        return self._day(day, self.registrations[len(self.registrations) - len(newcomers):] + returning, doctor_pool)

    def person_entries(self, first: int = 0) -> list[PersonEntry]:
        """Ground truth of the registrations from index ``first`` on, under the source holding patients."""
        source = self.h.source_ids.get("adt", self.h.base_id)
        return [PersonEntry(source, reg.patient_id, reg.person.key, ";".join(reg.record["_variations"]))
                for reg in self.registrations[first:]]

    def persons_by_id(self) -> dict[str, Person]:
        """This hospital's patient id -> the true person."""
        return {reg.patient_id: reg.person for reg in self.registrations}

    @property
    def daily_registrations(self) -> float:
        """Registrations per day of the simulated window: the follow-on days' rate of newcomers."""
        return sum(reg.day < self.days for reg in self.registrations) / self.days

    def _day(self, day: int, visiting: list[_Registration], doctor_pool: list[dict]) -> Day:
        the_date = self.start + timedelta(days=day)
        doctors, departments, devices = self._master_changes(day, doctor_pool)
        stubs = sorted((self._visit_start(the_date), i, reg) for i, reg in enumerate(visiting))
        records: Day = {e: [] for e in ENTITIES}
        records.update(doctors=doctors, departments=departments, devices=devices)
        records["patients"] = self._patients_of_day(day, the_date, [reg for _, _, reg in stubs])
        for admit, _, reg in stubs:
            self._encounter(reg, admit, records)
        records["encounters"].extend(self.discharges.pop(day, ()))
        return records

    def _visit_start(self, the_date: date) -> datetime:
        minutes = int(self.rng.triangular(7 * 60 + 30, 20 * 60, 9 * 60))
        return datetime.combine(the_date, time()) + timedelta(minutes=minutes, seconds=self.rng.randrange(60))

    def _patients_of_day(self, day: int, the_date: date, visiting: list[_Registration]) -> list[dict]:
        rng = self.rng
        patients = []
        midnight = datetime.combine(the_date, time())
        for reg in visiting:
            if reg.day == day and reg.record["updated_at"] is None:
                reg.record["updated_at"] = midnight + timedelta(hours=7, minutes=rng.randrange(60), seconds=rng.randrange(60))
                patients.append(dict(reg.record))
        for reg in self.registrations:
            if reg.day < day and rng.random() < UPDATE_RATE:
                change = {"phone": self.factory.phone(rng)} if rng.random() < 0.5 else dict(
                    zip(("region_code", "address"), _address_fields(self.factory.address(rng))))
                reg.record.update(change, updated_at=midnight + timedelta(hours=rng.randint(8, 20), minutes=rng.randrange(60)))
                patients.append(dict(reg.record))
        return patients

    def _encounter(self, reg: _Registration, admit: datetime, records: Day) -> None:
        rng = self.rng
        visit_type = rng.choices([v for v, _ in VISIT_TYPES], [w for _, w in VISIT_TYPES])[0]
        dept = self.departments[EMERGENCY_DEPARTMENT if visit_type == "emergency" else rng.choice(CLINICAL_DEPARTMENTS)]
        if visit_type == "inpatient":
            discharge = datetime.combine(admit.date() + timedelta(days=rng.randint(2, 10)), time(9)) + timedelta(minutes=rng.randrange(180))
        else:
            discharge = admit + timedelta(minutes=rng.randint(15, 90 if visit_type == "outpatient" else 360))
        doctors = [d for d in self.doctors if d["department_code"] == dept["department_code"]] or self.doctors
        doctor = rng.choice(doctors)
        encounter_id = self._id("encounters", visit_type=visit_type)
        patient_id = reg.patient_id
        encounter = {
            "encounter_source_id": encounter_id, "patient_source_id": patient_id, "visit_type": visit_type,
            "admit_time": admit, "discharge_time": discharge, "department_code": dept["department_code"],
            "doctor_code": doctor["doctor_code"], "discharge_status": "home" if rng.random() < 0.97 else "transfer",
            "updated_at": discharge, "_en": {},
        }
        if discharge.date() > admit.date():  # still in hospital at extract time; the discharge comes as an update
            self.discharges.setdefault((discharge.date() - self.start).days, []).append(dict(encounter))
            encounter.update(discharge_time=None, discharge_status=None, updated_at=admit + timedelta(minutes=5))
        records["encounters"].append(encounter)
        link = {"encounter_source_id": encounter_id, "patient_source_id": patient_id}
        diagnoses = rng.sample(ICD10_DIAGNOSES, 1 + (rng.random() < 0.3) + (visit_type == "inpatient"))
        for rank, (code, name_zh, name_en) in enumerate(diagnoses):
            records["diagnoses"].append({
                "diagnosis_source_id": self._id("diagnoses"), **link, "diagnosis_code": code, "code_system": "ICD-10",
                "diagnosis_name": name_zh, "diagnosis_type": "primary" if rank == 0 else "secondary",
                "diagnosis_time": admit + timedelta(minutes=rng.randint(5, 40)), "_en": {"diagnosis_name": name_en},
            })
        drug_keys = [k for code, _, _ in diagnoses for k in _DRUGS_FOR.get(code, ())]
        for _ in range(rng.choice((0, 1, 1, 1, 2))):
            drug = _DRUG_BY_KEY[rng.choice(drug_keys)] if drug_keys and rng.random() < 0.8 else rng.choice(DRUGS)
            started = admit + timedelta(minutes=rng.randint(20, 60))
            records["prescriptions"].append({
                "prescription_source_id": self._id("prescriptions"), **link, "drug_code": f"{self.h.organization}-YP{drug.key}",
                "drug_name": drug.name_zh, "dose": drug.dose, "dose_unit": drug.dose_unit, "route": drug.route,
                "frequency": drug.frequency, "quantity": str(drug.days if drug.frequency in ("qd", "qn") else drug.days * 2),
                "start_time": started, "end_time": started + timedelta(days=drug.days), "doctor_code": doctor["doctor_code"],
                "_en": {"drug_name": drug.name_en},
            })
        if visit_type == "outpatient" and rng.random() < 0.6:
            return
        wanted = [t for code, _, _ in diagnoses for t in _LABS_FOR.get(code, ())]
        count = rng.randint(1, 2) if visit_type == "outpatient" else rng.randint(2, 4)
        tests = list(dict.fromkeys(wanted + [t.loinc for t in rng.sample(LAB_TESTS, count)]))[: max(count, len(wanted))]
        specimen = admit + timedelta(minutes=rng.randint(10, 60))
        reported = specimen + timedelta(minutes=rng.randint(30, 180))
        for loinc in tests:
            test = _TEST_BY_LOINC[loinc]
            value = round(max(0.0, rng.gauss(test.mean, test.sd)), test.decimals)
            flag = "H" if value > test.high else "L" if value < test.low else "N"
            records["lab_results"].append({
                "lab_result_source_id": self._id("lab_results"), **link, "lab_code": test.loinc, "lab_name": test.name_zh,
                "value": f"{value:.{test.decimals}f}", "unit": test.unit, "reference_range": test.reference_range, "abnormal_flag": flag,
                "specimen_time": specimen, "result_time": reported, "_test": test, "_en": {"lab_name": test.name_en},
            })


def _address_fields(address) -> tuple[str, str]:
    return address.region_code, address.text
