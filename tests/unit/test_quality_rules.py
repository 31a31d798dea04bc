"""Pure pieces of carelake.quality: suite files, thresholds, ICD-10 validity, masking."""

from __future__ import annotations

import json

import pytest

from carelake.config import load_settings
from carelake.quality.suites import DIMENSIONS, SEVERITIES, SuiteError, load_suite, load_suites
from carelake.quality.thresholds import load_thresholds


@pytest.fixture(scope="module")
def settings():
    return load_settings()


def test_every_expectation_carries_dimension_severity_and_a_stable_rule_id(settings):
    suites = load_suites(settings)
    assert {"stg_patients", "stg_encounters", "stg_diagnoses", "stg_lab_results", "gold_person"} <= set(suites)
    seen = set()
    for suite in suites.values():
        assert suite.rules, suite.name
        for rule in suite.rules:
            assert rule.dimension in DIMENSIONS and rule.severity in SEVERITIES and rule.description
            assert rule.rule_id.startswith(suite.name + ".") and rule.rule_id not in seen
            seen.add(rule.rule_id)
    assert {r.dimension for s in suites.values() for r in s.rules} == set(DIMENSIONS)


def test_a_suite_without_meta_is_rejected_with_its_place(tmp_path):
    path = tmp_path / "stg_x.json"
    path.write_text(json.dumps({"name": "stg_x", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {"rule_id": "stg_x.a"}}]}))
    with pytest.raises(SuiteError, match=r"stg_x.json expectation 1: meta lacks dimension, severity, description"):
        load_suite(path)


def test_thresholds_give_a_reason_for_every_number_and_name_known_rules(settings):
    thresholds = load_thresholds(settings)
    rule_ids = {r.rule_id for s in load_suites(settings).values() for r in s.rules}
    for dimension in DIMENSIONS:
        assert thresholds.raw["dimensions"][dimension]["reason"]
    for rule_id, spec in thresholds.raw["rules"].items():
        assert rule_id in rule_ids and spec["reason"]
    for spec in thresholds.defect_rates.values():
        assert set(spec["rules"]) <= rule_ids


def test_icd10_validity_accepts_the_generators_codes_and_rejects_its_invalid_ones():
    from carelake.generate.reference import ICD10_DIAGNOSES, INVALID_DIAGNOSIS_CODES
    from carelake.quality.checked_tables import icd10_valid

    assert all(icd10_valid(code) for code, _, _ in ICD10_DIAGNOSES)  # incl. WHO-only codes such as M81.9
    assert not any(icd10_valid(code) for code in INVALID_DIAGNOSIS_CODES)
    assert icd10_valid("1") is False and icd10_valid("A00-A09") is False  # chapters and blocks are not codes


def test_masking_keeps_only_a_first_character_or_the_last_four():
    from carelake.generate.resident_id import make
    from carelake.quality.masking import mask_keep_last4, mask_name
    import random
    from datetime import date

    number = make("330402", date(1980, 5, 17), True, random.Random(1))
    masked = mask_keep_last4(number)
    assert masked.endswith(number[-4:]) and set(masked[:-4]) == {"*"} and len(masked) == len(number)
    assert mask_name("张三丰") == "张*" and mask_name(None) is None
    assert mask_keep_last4("13800138000") == "*******8000"
