"""Presidio recognizers for Chinese data (carelake.privacy), on the real analyzer (spaCy model from PyPI)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from carelake.generate import resident_id
from carelake.privacy.analyzer import analyze_text, load_policy, redact
from carelake.privacy.pseudonyms import PseudonymKeyMissing, date_shift_days, person_pseudonym, pseudonym_key

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def policy():
    return load_policy(REPO / "metadata")


def found(text: str, policy, entity: str | None = None) -> list[str]:
    return [text[f.start:f.end] for f in analyze_text(text, policy) if entity is None or f.entity_type == entity]


def valid_id(seed: int) -> str:
    rng = random.Random(seed)
    return resident_id.make("330402", date(1950 + seed % 50, 1 + seed % 12, 1 + seed % 28), seed % 2 == 0, rng)


def with_wrong_check(number: str) -> str:
    return number[:17] + next(c for c in "0123456789X" if c != number[17])


@pytest.mark.parametrize("seed", range(12))
def test_valid_resident_ids_are_found_and_wrong_check_characters_are_not(policy, seed):
    number = valid_id(seed)
    assert resident_id.is_valid(number)
    assert found(f"患者身份证号{number}，已核对。", policy, "CN_RESIDENT_ID") == [number]
    assert found(f"Resident ID {number.lower()} checked.", policy, "CN_RESIDENT_ID") == [number.lower()]
    wrong = with_wrong_check(number)
    assert not resident_id.is_valid(wrong)
    assert found(f"标本条码{wrong}。", policy, "CN_RESIDENT_ID") == []


def test_fifteen_digit_legacy_ids_need_a_real_birth_date(policy):
    legacy = "330402" + "800517" + "123"
    assert found(f"旧身份证号{legacy}。", policy, "CN_RESIDENT_ID") == [legacy]
    assert found("旧身份证号330402801317123。", policy, "CN_RESIDENT_ID") == []  # month 13


def test_ids_inside_longer_numbers_are_not_ids(policy):
    number = valid_id(3)
    assert found(f"条码9{number}1", policy, "CN_RESIDENT_ID") == []


@pytest.mark.parametrize("phone", ["13812345678", "138-1234-5678", "+86 13812345678", "+8613812345678", "0573-82345678"])
def test_phones_in_chinese_and_english_text(policy, phone):
    assert found(f"联系电话：{phone}。", policy, "CN_PHONE") == [phone]
    assert found(f"Phone {phone}, call after 5pm.", policy, "CN_PHONE") == [phone]


def test_mobile_numbers_need_a_mobile_prefix(policy):
    assert found("编号12012345678。", policy, "CN_PHONE") == []


@pytest.mark.parametrize("text,name", [
    ("患者王小明，男，65岁。", "王小明"),
    ("姓名：欧阳娜娜，女。", "欧阳娜娜"),
    ("其妻李娜陪同就诊。", "李娜"),
    ("家属张伟表示同意。", "张伟"),
    ("陈建国先生今日复诊。", "陈建国"),
    ("Patient 赵丽 was seen today.", "赵丽"),
    ("Accompanied by his wife 孙梅, tel pending.", "孙梅"),
])
def test_chinese_names_in_context(policy, text, name):
    assert found(text, policy, "CN_PERSON") == [name]


def test_addresses(policy):
    address = "浙江省嘉兴市南湖区建设路12号3幢2单元1201室"
    assert found(f"住址：{address}。", policy, "CN_ADDRESS") == [address]
    assert found(f"Address: {address}.", policy, "CN_ADDRESS") == [address]
    assert found("家住嘉兴市秀洲区中山路88号。", policy, "CN_ADDRESS") == ["嘉兴市秀洲区中山路88号"]


def test_source_patterns_find_mrns(policy):
    assert found("病案号：0200000123。", policy, "MEDICAL_RECORD_NUMBER") == ["0200000123"]
    assert found("Patient MRN01000042 admitted.", policy, "MEDICAL_RECORD_NUMBER") == ["MRN01000042"]


@pytest.mark.parametrize("text", [
    "血糖 7.8 mmol/L，血压 130/85 mmHg，心率 88 次/分，2026-09-03 复查。",
    "WBC 12.3 x10^9/L, Hb 135 g/L, PLT 210, CRP 8.5 mg/L on 2026-09-03 08:30.",
    "诊断：2型糖尿病；高血压病3级。给予二甲双胍 0.5g bid。",
    "ICD10 E11.9, LOINC 2345-7, dose 500 mg q12h for 14 days.",
])
def test_no_false_positives_on_lab_values_dates_and_codes(policy, text):
    assert found(text, policy) == []


def test_english_names_through_spacy(policy):
    assert "John Smith" in found("Seen by Dr. John Smith at the clinic today.", policy, "PERSON")


def test_redact_replaces_every_finding(policy):
    number = valid_id(5)
    text = f"患者王小明，身份证号{number}，电话13812345678。"
    redacted = redact(text, analyze_text(text, policy))
    assert redacted == "患者<CN_PERSON>，身份证号<CN_RESIDENT_ID>，电话<CN_PHONE>。"


def test_pseudonym_key_is_required_outside_dev(policy, monkeypatch):
    monkeypatch.delenv("CARELAKE_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("CARELAKE_ENV", raising=False)
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    with pytest.raises(PseudonymKeyMissing):
        pseudonym_key(policy)
    monkeypatch.setenv("CARELAKE_ENV", "dev")
    assert pseudonym_key(policy) == policy["pseudonyms"]["dev_key"].encode()
    monkeypatch.setenv("CARELAKE_PSEUDONYM_KEY", "another-secret")
    assert pseudonym_key(policy) == b"another-secret"


def test_pseudonyms_are_keyed_and_date_shifts_are_bounded(policy):
    a, b = b"key-a", b"key-b"
    assert person_pseudonym(a, 42, policy) == person_pseudonym(a, 42, policy)
    assert person_pseudonym(a, 42, policy) != person_pseudonym(b, 42, policy)
    assert person_pseudonym(a, 42, policy) != person_pseudonym(a, 43, policy)
    shifts = [date_shift_days(a, pid, 30) for pid in range(500)]
    assert all(-30 <= s <= 30 and s != 0 for s in shifts)
    assert len(set(shifts)) > 30
