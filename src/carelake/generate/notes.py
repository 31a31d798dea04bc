"""Clinical notes (progress notes / 病程记录) with planted personal data, and where every piece of it is.

One note per new encounter of the CSV hospitals (English notes at ``csv_en``, Chinese at ``csv_zh``),
drawn from a random stream of its own (``<seed>:<hospital>:notes``, per follow-on day
``...:notes:day<k>``) after the defects, so every other file is byte-identical with or without notes.

A note mentions, each with some probability and in varying formats, the patient's name, resident ID,
phone, address, MRN (the hospital's patient id) and insurance number, a relative's name and phone,
dates, and sometimes an ID-like 18-digit number with a wrong check character (a specimen barcode) that
is no resident ID. The ``comment`` column (a free-text remark no policy declares) sometimes holds a
phone number: the undeclared personal data a scan must find.

Truth (``<out_dir>/_truth/``):

* ``planted_pii.csv``  source_id, note_id, column, entity_type, value, start, end (character offsets
  into the column's value; entity_type ``NOT_PII`` marks the invalid-checksum numbers)
* ``identifiers.csv``  person_key, name, id_number, phone, address, insurance_no, plus each relative's
  name and phone (``relation`` = self / relative): every direct identifier the generator wrote
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

from carelake.generate.population import Person, PersonFactory

NOT_PII = "NOT_PII"
_RELATIONS = {"en": ("wife", "husband", "son", "daughter", "mother", "father"),
              "zh": ("其妻", "其夫", "其子", "其女", "其母", "其父")}
_VITALS = {"en": "Vitals: T {t} C, BP {sbp}/{dbp} mmHg, HR {hr}/min, glucose {glu} mmol/L. ",
           "zh": "查体：体温{t}℃，血压{sbp}/{dbp}mmHg，心率{hr}次/分，血糖{glu}mmol/L。"}
# (probability, Person attribute, entity type) of the optional mentions, in note order
_OPTIONAL = ((0.8, "id_number", "CN_RESIDENT_ID"), (0.8, "phone", "CN_PHONE"), (0.7, "address", "CN_ADDRESS"),
             (0.5, "insurance_no", "MEDICAL_INSURANCE_NO"))
# a note's words per language: `head` pieces are literal text or the slots DATE, NAME, DOB, MRN
_WORDS = {
    "en": {"date": "%Y-%m-%d", "M": "male", "F": "female",
           "head": ("Progress note, ", "DATE", ". Patient ", "NAME", ", {sex}, born ", "DOB", ", MRN ", "MRN", ", seen for follow-up. "),
           "id_number": ("Resident ID ", ". "), "phone": ("Phone ", ". "), "address": ("Address: ", ". "),
           "insurance_no": ("Insurance no. ", ". "), "relative": ("Accompanied by his/her {relation} ", ", tel ", ". "),
           "barcode": ("Specimen barcode ", ". "), "plan": "Plan: continue current treatment, review in 2 weeks."},
    "zh": {"date": "%Y年%m月%d日", "M": "男", "F": "女",
           "head": ("DATE", " 病程记录。患者", "NAME", "，{sex}，出生日期", "DOB", "，病案号：", "MRN", "。"),
           "id_number": ("身份证号：", "。"), "phone": ("联系电话：", "。"), "address": ("住址：", "。"),
           "insurance_no": ("医保卡号：", "。"), "relative": ("{relation}", "陪同，电话", "。"),
           "barcode": ("标本条码", "。"), "plan": "诊疗计划：继续目前治疗，两周后复诊。"},
}


class PlantedPii(NamedTuple):
    source_id: str
    note_id: str
    column: str
    entity_type: str
    value: str
    start: int
    end: int


@dataclass
class _Text:
    """A text built piece by piece, noting where the planted values are."""

    parts: list[str] = field(default_factory=list)
    spans: list[tuple[str, str, int, int]] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, entity_type: str | None = None) -> _Text:
        if entity_type:
            self.spans.append((entity_type, text, self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)
        return self

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _phone_as_written(phone: str, rng: random.Random) -> str:
    style = rng.random()
    if style < 0.5:
        return phone
    if style < 0.75:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    return f"+86 {phone}"


def _invalid_id(rng: random.Random, person: Person) -> str:
    """An 18-digit number shaped like a resident ID whose check character is wrong."""
    number = person.id_number[:14] + f"{rng.randrange(1000):03d}"
    from carelake.generate import resident_id

    right = resident_id.check_character(number)
    return number + rng.choice([c for c in "0123456789" if c != right])


class NoteWriter:
    """Adds a ``notes`` list to each day of one CSV hospital and collects the planted-PII truth."""

    def __init__(self, source_id: str, language: str, factory: PersonFactory, registrations: dict[str, Person]):
        self.source_id = source_id
        self.language = language
        self.factory = factory
        self.registrations = registrations  # patient_source_id -> person
        self.count = 0
        self.seen: set[str] = set()
        self.planted: list[PlantedPii] = []
        self.relatives: list[tuple[str, str, str]] = []  # person key, name, phone

    def days(self, days: list[dict], rng: random.Random) -> None:
        for day in days:
            day["notes"] = [self.note(encounter, rng) for encounter in day["encounters"]
                            if encounter["encounter_source_id"] not in self.seen and not self.seen.add(encounter["encounter_source_id"])
                            and encounter["patient_source_id"] in self.registrations]

    def note(self, encounter: dict, rng: random.Random) -> dict:
        encounter = {**encounter, **encounter.get("_orig", {})}  # the true values under a planted defect
        self.count += 1
        note_id = f"N{self.source_id[1:3]}{self.count:08d}"
        person = self.registrations[encounter["patient_source_id"]]
        relative = (rng.choice(self.factory.surnames) + rng.choice(self.factory.male_names + self.factory.female_names),
                    self.factory.phone(rng), rng.choice(_RELATIONS[self.language]))
        self.relatives.append((person.key, relative[0], relative[1]))
        body = self._body(encounter, person, relative, rng)
        comment = _Text()
        if rng.random() < 0.3:
            lead = "Call back on " if self.language == "en" else "家属要求电话回访："
            comment.add(lead).add(_phone_as_written(relative[1], rng), "CN_PHONE")
        for column, built in (("note_text", body), ("comment", comment)):
            self.planted.extend(PlantedPii(self.source_id, note_id, column, entity, value, start, end)
                                for entity, value, start, end in built.spans)
        note_time = encounter["admit_time"] + timedelta(minutes=rng.randint(30, 240))
        return {"note_source_id": note_id, "encounter_source_id": encounter["encounter_source_id"],
                "patient_source_id": encounter["patient_source_id"], "note_time": note_time,
                "note_type": "progress" if self.language == "en" else "病程记录",
                "note_title": "Progress note" if self.language == "en" else "首次病程记录",
                "note_text": body.text, "doctor_code": encounter["doctor_code"], "comment": comment.text or None}

    @staticmethod
    def _vitals(language: str, rng: random.Random) -> str:
        return _VITALS[language].format(t=round(rng.uniform(36.2, 39.0), 1), sbp=rng.randint(100, 170),
                                        dbp=rng.randint(60, 100), hr=rng.randint(55, 120), glu=round(rng.uniform(3.9, 15), 1))

    def _body(self, encounter: dict, person: Person, relative, rng: random.Random) -> _Text:
        words = _WORDS[self.language]
        t = _Text()
        values = {"DATE": (encounter["admit_time"].strftime(words["date"]), "DATE_TIME"), "NAME": (person.name, "CN_PERSON"),
                  "DOB": (person.birth_date.isoformat(), "DATE_TIME"),
                  "MRN": (encounter["patient_source_id"], "MEDICAL_RECORD_NUMBER")}
        for piece in words["head"]:
            t.add(*values[piece]) if piece in values else t.add(piece.format(sex=words[person.sex]))
        for probability, field_name, entity in _OPTIONAL:
            if rng.random() < probability:
                value = _phone_as_written(person.phone, rng) if field_name == "phone" else (
                    person.address.text if field_name == "address" else getattr(person, field_name))
                before, after = words[field_name]
                t.add(before).add(value, entity).add(after)
        t.add(self._vitals(self.language, rng))
        if rng.random() < 0.7:
            before, middle, after = words["relative"]
            t.add(before.format(relation=relative[2])).add(relative[0], "CN_PERSON").add(middle)
            t.add(_phone_as_written(relative[1], rng), "CN_PHONE").add(after)
        if rng.random() < 0.4:
            t.add(words["barcode"][0]).add(_invalid_id(rng, person), NOT_PII).add(words["barcode"][1])
        return t.add(words["plan"])


def write_truth(truth_dir: Path, writers: list[NoteWriter], persons: list[Person]) -> None:
    """``planted_pii.csv`` and ``identifiers.csv`` (see the module doc)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(PlantedPii._fields)
    out.writerows(p for w in writers for p in w.planted)
    (truth_dir / "planted_pii.csv").write_text(buffer.getvalue(), encoding="utf-8")
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(("person_key", "relation", "name", "id_number", "phone", "address", "insurance_no"))
    out.writerows((p.key, "self", p.name, p.id_number, p.phone, p.address.text, p.insurance_no) for p in persons)
    out.writerows((key, "relative", name, "", phone, "", "") for w in writers for key, name, phone in w.relatives)
    (truth_dir / "identifiers.csv").write_text(buffer.getvalue(), encoding="utf-8")


def note_corpus(count: int, seed: int = 11, start: str = "2026-09-01") -> tuple[list[dict], list[PlantedPii]]:
    """A stand-alone mixed corpus of ``count`` notes (English and Chinese alternately), with their truth:
    (notes as records with ``note_source_id`` / ``note_text`` / ``comment``, planted PII). For tests and benchmarks."""
    from datetime import datetime

    factory = PersonFactory(seed)
    rng = random.Random(f"{seed}:corpus")
    today = datetime.fromisoformat(start)
    writers = {language: NoteWriter(f"c{i}_corpus_{language}", language, factory, {}) for i, language in enumerate(("en", "zh"))}
    notes = []
    for n in range(count):
        writer = writers["en" if n % 2 == 0 else "zh"]
        person = factory.person(n + 1, rng, today.date())
        patient_id = f"MRN01{n:06d}" if writer.language == "en" else f"02{n:08d}"
        writer.registrations[patient_id] = person
        encounter = {"encounter_source_id": f"E{n:08d}", "patient_source_id": patient_id, "doctor_code": "DR0001",
                     "admit_time": today + timedelta(minutes=rng.randrange(60 * 24 * 60))}
        notes.append(writer.note(encounter, rng))
    return notes, [p for w in writers.values() for p in w.planted]
