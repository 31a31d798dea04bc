"""profile -> suggest -> check on layouts carelake.generate never writes (no Spark: the dry run writes nothing).

Each layout is its own source folder written here: GBK with tabs and Chinese headers, UTF-16 lab results with
LOINC codes, UTF-8 with a BOM, semicolons, dd.MM.yyyy dates and quoted fields with embedded newlines, and an
xlsx whose header sits under a merged title row. Expectations come from what the test wrote.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
from datetime import date, datetime, timedelta

import pytest
import yaml

from carelake.config import load_settings
from carelake.generate.resident_id import make as resident_id
from carelake.onboarding.check import check_source, with_entries
from carelake.onboarding.profile import is_loinc, is_snomed, profile_folder
from carelake.onboarding.suggest import suggest
from carelake.registry import load_registry

DAY = "2026-10-20"
RNG = random.Random(11)
LOINC = [("2345-7", "Glucose", "mmol/L"), ("718-7", "Hemoglobin", "g/L"), ("2160-0", "Creatinine", "umol/L")]


def _text(header, rows, delimiter):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _gbk_patients(n=25):
    header = ["患者编号", "姓名", "性别", "出生日期", "身份证号", "联系电话", "家庭住址"]
    rows = []
    for i in range(n):
        born = date(1950, 1, 1) + timedelta(days=RNG.randrange(20000))
        rows.append([f"ZY{i:05d}", RNG.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]), RNG.choice(["男", "女"]),
                     born.strftime("%Y/%m/%d"), resident_id("330402", born, i % 2 == 0, RNG), f"13{RNG.randrange(10**8, 10**9)}",
                     "浙江省嘉兴市南湖区"])
    return header, rows


def _utf16_labs(n=30):
    header = ["RESULT_ID", "PAT_NO", "LOINC", "TEST_NAME", "RESULT", "UNIT", "COLLECTED_AT"]
    rows = []
    for i in range(n):
        code, name, unit = LOINC[i % 3]
        at = datetime(2026, 10, 1, 8) + timedelta(hours=i)
        rows.append([f"R{i:04d}", f"P{i % 7:03d}", code, name, f"{RNG.uniform(3, 9):.1f}", unit, at.strftime("%Y-%m-%d %H:%M:%S")])
    return header, rows


def _semicolon_visits(n=20):
    header = ["CASE_NO", "Patient-ID", "VISIT_CLASS", "ADMISSION_DATE", "DISCHARGE_DATE", "DEPT_CODE", "REMARK"]
    rows = []
    for i in range(n):
        start = datetime(2026, 9, 1, 9) + timedelta(days=i)
        rows.append([f"F{i:04d}", f"P{i % 9:03d}", "O", start.strftime("%d.%m.%Y"), (start + timedelta(days=2)).strftime("%d.%m.%Y"),
                     "D01", "follow-up; call back\nin 2 weeks" if i % 4 == 0 else ""])
    return header, rows


VISITS_MAPPING = {"CASE_NO": "encounter_source_id", "Patient-ID": "patient_source_id", "VISIT_CLASS": "visit_type",
                  "ADMISSION_DATE": "admit_time", "DISCHARGE_DATE": "discharge_time", "DEPT_CODE": "department_code",
                  "REMARK": None}  # no canonical encounter column: kept under its own name


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("onboard")
    written = {}

    def folder(source):
        path = root / source / DAY
        path.mkdir(parents=True)
        return path

    header, rows = _gbk_patients()
    text = _text(header, rows, "\t") + "ZY99999\t孙丽\t女\r\n"  # a record with too few fields (line 27)
    (folder("fx_gbk") / "hzxx.txt").write_bytes(text.encode("gbk"))
    written["fx_gbk"] = (header, len(rows) + 1)
    header, rows = _utf16_labs()
    (folder("fx_utf16") / "lab_results.csv").write_bytes(_text(header, rows, ",").encode("utf-16"))
    written["fx_utf16"] = (header, len(rows))
    header, rows = _semicolon_visits()
    (folder("fx_bom") / "visits.csv").write_bytes(b"\xef\xbb\xbf" + _text(header, rows, ";").encode("utf-8"))
    written["fx_bom"] = (header, len(rows))
    written["fx_xlsx"] = _xlsx(folder("fx_xlsx") / "diagnoses_export.xlsx")
    return root, written


def _xlsx(path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Diagnoses"
    sheet["A1"] = "Lakeside Clinic - diagnosis export October 2026"
    sheet.merge_cells("A1:F1")
    header = ["DX_ID", "VISIT_NO", "PAT_NO", "ICD10", "DX_NAME", "DX_DATE"]
    sheet.append([])
    sheet.append(header)
    codes = [("I10", "Hypertension"), ("E11.9", "Type 2 diabetes"), ("J45.909", "Asthma")]
    for i in range(12):
        code, name = codes[i % 3]
        sheet.append([f"DX{i:03d}", f"V{i:03d}", f"P{i % 4:03d}", code, name, datetime(2026, 10, 1, 9) + timedelta(hours=i)])
    sheet.append(["DX900", "V900", "P001", "#N/A", "lookup failed", datetime(2026, 10, 2, 9)])  # an Excel error value
    sheet.append(["DX901", "V901", "P001", "I10", "Hypertension", datetime(2026, 10, 2, 9), "stray"])  # beyond the header
    book.save(path)
    return header, 14


@pytest.fixture(scope="module")
def onboarding(landing):
    root, _ = landing
    settings = dataclasses.replace(load_settings(), landing_root=root)
    return settings, load_registry(settings)


def _profile(root, source):
    (profile,) = profile_folder(root / source)
    return profile


def test_profile_finds_encoding_delimiter_header_and_formats(landing):
    root, written = landing
    gbk = _profile(root, "fx_gbk")
    assert (gbk.encoding, gbk.delimiter, gbk.header_language, gbk.header_row) == ("gb18030", "\t", "zh", 1)
    assert gbk.header == written["fx_gbk"][0] and gbk.records == written["fx_gbk"][1]
    assert gbk.malformed == 1 and gbk.malformed_lines == [written["fx_gbk"][1] + 1]
    columns = {c.name: c for c in gbk.columns}
    assert columns["出生日期"].date_format == "%Y/%m/%d" and columns["身份证号"].pii == "resident_id"
    assert columns["联系电话"].pii == "phone" and columns["姓名"].pii == "name"
    assert "患者编号" in gbk.candidate_keys

    labs = _profile(root, "fx_utf16")
    assert (labs.encoding, labs.bom, labs.delimiter, labs.header_language) == ("utf-16", True, ",", "en")
    columns = {c.name: c for c in labs.columns}
    assert columns["LOINC"].code_system == "LOINC" and columns["COLLECTED_AT"].date_format == "%Y-%m-%d %H:%M:%S"
    assert columns["RESULT"].type == "decimal" and labs.candidate_keys == ["RESULT_ID"]

    visits = _profile(root, "fx_bom")
    assert (visits.encoding, visits.bom, visits.delimiter) == ("utf-8", True, ";")
    assert visits.records == written["fx_bom"][1] and visits.malformed == 0  # embedded newlines stay in their record
    assert visits.date_formats() == {"%d.%m.%Y"}
    assert {c.name: c.null_tokens for c in visits.columns}["REMARK"]["<empty>"] == 15

    sheet = _profile(root, "fx_xlsx")
    assert (sheet.format, sheet.sheet, sheet.header_row) == ("xlsx", "Diagnoses", 3)
    assert sheet.header == written["fx_xlsx"][0] and sheet.records == written["fx_xlsx"][1] and sheet.malformed == 1
    assert {c.name: c.code_system for c in sheet.columns}["ICD10"] == "ICD-10"


def test_code_system_check_digits():
    assert is_loinc("2345-7") and not is_loinc("2345-8")
    assert is_snomed("38341003") and not is_snomed("38341004")


EXPECTED = {
    "fx_gbk": ("patients", {"患者编号": "patient_source_id", "姓名": "name", "性别": "sex", "出生日期": "birth_date",
                            "身份证号": "id_number", "联系电话": "phone", "家庭住址": "address"}),
    "fx_utf16": ("lab_results", {"RESULT_ID": "lab_result_source_id", "PAT_NO": "patient_source_id", "LOINC": "lab_code",
                                 "TEST_NAME": "lab_name", "RESULT": "value", "UNIT": "unit", "COLLECTED_AT": "specimen_time"}),
    "fx_bom": ("encounters", VISITS_MAPPING),
    "fx_xlsx": ("diagnoses", {"DX_ID": "diagnosis_source_id", "VISIT_NO": "encounter_source_id", "PAT_NO": "patient_source_id",
                              "ICD10": "diagnosis_code", "DX_NAME": "diagnosis_name", "DX_DATE": "diagnosis_time"}),
}


@pytest.mark.parametrize("source", sorted(EXPECTED))
def test_suggest_maps_at_least_90_percent_and_the_entry_checks(landing, onboarding, source):
    root, written = landing
    settings, registry = onboarding
    proposal = suggest(root / source, source, registry, settings)
    entity, expected = EXPECTED[source]
    assert [e.entity for e in proposal.entities] == [entity]
    got = proposal.mapping()[entity]
    right = sum(1 for column, target in expected.items() if got.get(column) == target)
    assert right / len(expected) >= 0.9, (got, expected)
    text = proposal.to_yaml()
    assert all("confidence" not in line or "#" in line for line in text.splitlines())
    entry = yaml.safe_load(text)[0]
    assert entry["entities"][entity]["path"] == f"{{landing}}/{source}/{{date}}/{next((root / source / DAY).iterdir()).name}"

    report = check_source(with_entries(registry, [entry]), with_entries(registry, [entry]).source(source))
    totals = report.totals()
    assert totals["files"] == 1 and totals["records"] == written[source][1]
    assert totals["bronze"] + totals["quarantined"] == totals["records"]
    if source == "fx_xlsx":
        reasons = sorted(r for f in report.files for r in f.reasons)
        assert totals["quarantined"] == 2 and "row 16" in reasons[0] and "#N/A" in reasons[0] and "row 17" in reasons[1]
    if source == "fx_gbk":
        assert totals["quarantined"] == 1
    assert report.ok, report.errors


def test_check_fails_on_an_unmapped_required_column_and_the_cli_says_so(landing, onboarding, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from carelake.cli import app

    root, _ = landing
    settings, registry = onboarding
    entry = suggest(root / "fx_utf16", "fx_utf16", registry, settings).entry()
    del entry["entities"]["lab_results"]["columns"]["LOINC"]
    proposal = tmp_path / "proposal.yml"
    proposal.write_text(yaml.safe_dump([entry], allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CARELAKE_LANDING_ROOT", str(root))
    runner = CliRunner()
    result = runner.invoke(app, ["sources", "check", "fx_utf16", "--entry", str(proposal)])
    assert result.exit_code == 1, result.output
    assert "required column(s) not mapped: lab_code" in " ".join(result.output.split())
    result = runner.invoke(app, ["sources", "profile", str(root / "fx_bom"), "--json"])
    assert result.exit_code == 0, result.output
    (profile,) = json.loads(result.output)
    assert profile["delimiter"] == ";" and profile["encoding"] == "utf-8" and profile["bom"] is True
    result = runner.invoke(app, ["sources", "suggest", str(root / "fx_gbk"), "--id", "fx_gbk", "--out", str(tmp_path / "s.yml")])
    assert result.exit_code == 0 and yaml.safe_load((tmp_path / "s.yml").read_text(encoding="utf-8"))[0]["csv"]["encoding"] == "gb18030"
