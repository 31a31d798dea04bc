"""Data-quality defects, injected into canonical records at configured rates.

Each defect type belongs to one of the five quality dimensions the platform
reports on. A record carries at most one defect, noted as
``record["_defect"] = (defect_type, canonical column)``; the clean value it
replaced is kept in ``record["_orig"]`` (the HL7 feed repeats a patient or
a visit in several messages and shows the defect only in the message that
owns the record). Writers turn the notes into ground truth.

Rates are per eligible record: 0.02 means about 2% of the records a defect
type can apply to get it.
"""

from __future__ import annotations

import random
from datetime import timedelta

from carelake.generate.activity import ID_COLUMN, Day
from carelake.generate.reference import INVALID_DIAGNOSIS_CODES

DIMENSIONS = {
    "missing_required": "completeness",
    "invalid_code": "accuracy",
    "discharge_before_admission": "consistency",
    "out_of_range_lab": "accuracy",
    "duplicate_record": "uniqueness",
    "late_arriving": "timeliness",
}
DEFAULT_RATE = 0.02

# defect type -> entity -> columns it can hit (one is chosen per defective record)
VALUE_DEFECTS: dict[str, dict[str, tuple[str, ...]]] = {
    "missing_required": {"patients": ("birth_date", "id_number"), "encounters": ("admit_time",), "lab_results": ("value",)},
    "invalid_code": {"diagnoses": ("diagnosis_code",)},
    "discharge_before_admission": {"encounters": ("discharge_time",)},
    "out_of_range_lab": {"lab_results": ("value",)},
}
DUPLICABLE = ("patients", "encounters", "diagnoses", "prescriptions", "lab_results")
# the column telling when the event happened: a late-arriving visit brings its diagnoses, orders and results along
EVENT_TIME = {"encounters": "admit_time", "diagnoses": "diagnosis_time", "prescriptions": "start_time", "lab_results": "specimen_time"}
_TIME_COLUMNS = {
    "encounters": ("admit_time", "discharge_time", "updated_at"),
    "diagnoses": ("diagnosis_time",),
    "prescriptions": ("start_time", "end_time"),
    "lab_results": ("specimen_time", "result_time"),
}
LATE_DAYS = (3, 10)  # a late record's event is this many days before its extract date


def resolve_rates(overrides: dict[str, float] | None) -> dict[str, float]:
    rates = dict.fromkeys(DIMENSIONS, DEFAULT_RATE)
    for name, rate in (overrides or {}).items():
        if name not in DIMENSIONS:
            raise ValueError(f"unknown defect type {name!r} (known: {', '.join(DIMENSIONS)})")
        if not 0 <= rate <= 1:
            raise ValueError(f"defect rate for {name} must be between 0 and 1, got {rate}")
        rates[name] = float(rate)
    return rates


def inject(days: list[Day], rates: dict[str, float], rng: random.Random) -> None:
    """Mutate one hospital's days in place."""
    for day in days:
        _late_arrivals(day, rates["late_arriving"], rng)
        _value_defects(day, rates, rng)
    _duplicates(days, rates["duplicate_record"], rng)


def _mark(record: dict, defect: str, column: str, value=None, keep_original: bool = True) -> None:
    if keep_original:
        record["_orig"] = {column: record[column]}
        record[column] = value
    record["_defect"] = (defect, column)


def _late_arrivals(day: Day, rate: float, rng: random.Random) -> None:
    if not rate:
        return
    late: dict[str, timedelta] = {}
    for encounter in day["encounters"]:
        # only closed visits arrive late (an open stay's discharge update must agree with its admission)
        if encounter["discharge_time"] is not None and encounter["admit_time"].date() == encounter["discharge_time"].date() and rng.random() < rate:
            late[encounter["encounter_source_id"]] = timedelta(days=rng.randint(*LATE_DAYS))
    if not late:
        return
    for entity, columns in _TIME_COLUMNS.items():
        for record in day[entity]:
            shift = late.get(record["encounter_source_id"])
            if shift is None:
                continue
            for column in columns:
                if record[column] is not None:
                    record[column] -= shift
            _mark(record, "late_arriving", EVENT_TIME[entity], keep_original=False)


def _value_defects(day: Day, rates: dict[str, float], rng: random.Random) -> None:
    for defect, targets in VALUE_DEFECTS.items():
        rate = rates[defect]
        if not rate:
            continue
        for entity, columns in targets.items():
            for record in day[entity]:
                if "_defect" in record or rng.random() >= rate:
                    continue
                column = rng.choice(columns)
                if defect == "missing_required":
                    _mark(record, defect, column, None)
                elif defect == "invalid_code":
                    _mark(record, defect, column, rng.choice(INVALID_DIAGNOSIS_CODES))
                elif defect == "discharge_before_admission":
                    discharge = record["discharge_time"]
                    if discharge is not None and record["admit_time"].date() == discharge.date():  # a same-day visit
                        _mark(record, defect, column, record["admit_time"] - timedelta(minutes=rng.randint(30, 600)))
                elif defect == "out_of_range_lab":
                    _mark(record, defect, column, impossible_value(record["_test"], rng))


def impossible_value(test, rng: random.Random) -> str:
    if rng.random() < 0.4:
        value = -rng.uniform(max(test.low, 1.0), max(test.high, 2.0))
    else:
        value = test.plausible_max * rng.uniform(1.5, 10)
    return f"{value:.{test.decimals}f}"


def _duplicates(days: list[Day], rate: float, rng: random.Random) -> None:
    """Exact repeats of clean records, later in the same file or in the next day's file."""
    if not rate:
        return
    inserts: list[dict[str, dict[int, list[dict]]]] = [{e: {} for e in DUPLICABLE} for _ in days]
    for index, day in enumerate(days):
        for entity in DUPLICABLE:
            for position, record in enumerate(day[entity]):
                if "_defect" in record or rng.random() >= rate:
                    continue
                copy = {**record, "_defect": ("duplicate_record", ID_COLUMN[entity]), "_copy_of": record}
                if index + 1 < len(days) and days[index + 1][entity] and rng.random() < 0.5:
                    target, after = index + 1, rng.randrange(len(days[index + 1][entity]))
                else:
                    target, after = index, rng.randrange(position, len(day[entity]))
                inserts[target][entity].setdefault(after, []).append(copy)
    for day, pending in zip(days, inserts, strict=True):
        for entity, by_position in pending.items():
            if by_position:
                merged = []
                for position, record in enumerate(day[entity]):
                    merged.append(record)
                    merged.extend(by_position.get(position, ()))
                day[entity] = merged
