"""Metadata on the demo lake: the dictionary matches the live gold tables exactly, the check catches drift,
lineage of a gold column names the landed files the generator wrote, and the catalogue site builds."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml

LAB_VALUE = "gold.measurement.value_as_number"


@pytest.fixture(scope="module")
def live_gold(spark, gold):
    from carelake.metadata.check import live_columns

    return live_columns(spark, ["gold"])


@pytest.fixture(scope="module")
def dictionary(settings):
    from carelake.metadata.dictionary import load_dictionary

    return load_dictionary(settings)


@pytest.fixture(scope="module")
def lab_lineage(spark, settings, gold):
    from carelake.metadata.lineage import column_lineage

    return column_lineage(spark, settings, LAB_VALUE)


def test_dictionary_has_300_elements_and_documents_exactly_the_gold_columns(spark, settings, live_gold, dictionary):
    from carelake.metadata.check import check

    live_ids = {f"{table}.{column}" for table, columns in live_gold.items() for column in columns}
    planned = dictionary.data_map.planned()
    documented = {e.id for e in dictionary.elements.values() if e.table in live_gold or e.table not in planned}
    assert len(dictionary.elements) >= 300
    assert sorted(live_ids - documented) == [], "gold columns without a dictionary entry"
    assert sorted(documented - live_ids) == [], "documented columns that are not in the lake"
    drift = [(e.id, e.data_type, live_gold[e.table][e.column]) for e in dictionary.elements.values()
             if e.table in live_gold and live_gold[e.table][e.column] != e.data_type]
    assert drift == []
    for element in dictionary.elements.values():
        assert re.search(r"[\u4e00-\u9fff]", element.name_zh), element.id
        assert element.name_en and element.definition and element.owner and element.steward, element.id
        assert element.level in (1, 2, 3, 4, 5), f"{element.id}: no sensitivity level from classification.yml"
    report = check(spark, settings, dictionary)
    assert report.ok, report.summary()
    assert report.live_gold_columns == len(live_ids)


def test_check_reports_an_undocumented_column_a_missing_column_and_type_drift(spark, settings, live_gold, tmp_path):
    from carelake.metadata.check import check
    from carelake.metadata.dictionary import dictionary_dir, load_dictionary

    folder = tmp_path / "dictionary"
    shutil.copytree(dictionary_dir(settings), folder)
    doc = yaml.safe_load((folder / "patient.yml").read_text(encoding="utf-8"))
    person = doc["tables"]["gold.person"]["columns"]
    dropped = next(c for c in person if not c.startswith("_") and c != "person_id")
    person.pop(dropped)
    person["blood_type"] = {"name_en": "Blood type", "name_zh": "血型", "definition": "ABO blood type.",
                            "data_type": "string"}
    person["year_of_birth"]["data_type"] = "string"
    (folder / "patient.yml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")

    report = check(spark, settings, load_dictionary(settings, directory=folder))
    assert not report.ok
    assert [f.subject for f in report.by_kind("undocumented")] == [f"gold.person.{dropped}"]
    assert [f.subject for f in report.by_kind("not_in_lake")] == ["gold.person.blood_type"]
    assert [(f.subject, f.message) for f in report.by_kind("type_drift")] == [
        ("gold.person.year_of_birth", f"documented as string, the table has {live_gold['gold.person']['year_of_birth']}")]


def _truth_files(truth_dir: Path) -> list[dict]:
    with (truth_dir / "files.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_lineage_of_a_lab_value_names_the_landed_lab_files(spark, settings, demo_extracts, lab_lineage):
    """Every generated lab_results file, and the HL7 feed (ORU results), feeds gold.measurement.value_as_number;
    no file of another entity does."""
    truth = _truth_files(demo_extracts.truth_dir)
    generated_sources = {row["source_id"] for row in truth}
    hl7_sources = {row["source_id"] for row in truth if row["entity"] == "messages"}
    expected = {row["file"] for row in truth if row["entity"] == "lab_results" or row["source_id"] in hl7_sources}
    landing = Path(settings.landing_root).resolve()
    named = {Path(f["file_path"]).resolve().relative_to(landing).as_posix()
             for f in lab_lineage.source_files if f["source_id"] in generated_sources}
    assert expected and named == expected

    # the chain: gold <- silver int_* <- per-source staging views <- bronze columns that exist
    assert {up.table for up, _ in lab_lineage.upstream(lab_lineage.target)} == {"silver.int_lab_results__mapped"}
    bronze_tables = set(lab_lineage.bronze_tables)
    assert {f"bronze.{s}__lab_results" for s in generated_sources - hl7_sources
            if any(r["source_id"] == s and r["entity"] == "lab_results" for r in truth)} <= bronze_tables
    assert {f"bronze.{s}__messages" for s in hl7_sources} <= bronze_tables
    for ref in lab_lineage.bronze_columns:
        if ref.table.split(".")[1].split("__")[0] in generated_sources:
            assert ref.table.endswith(("__lab_results", "__messages")), ref
        assert ref.column in {f.name.lower() for f in spark.table(ref.table).schema.fields}, ref
    assert "<- silver.int_lab_results__mapped.value_as_number" in lab_lineage.tree()


def test_lineage_of_year_of_birth_reaches_patient_birth_dates_through_the_mpi(spark, settings):
    from carelake.metadata.lineage import LineageError, column_lineage

    result = column_lineage(spark, settings, "gold.person.year_of_birth", with_files=False)
    bronze = {str(c) for c in result.bronze_columns}
    patient_tables = {t for t in result.bronze_tables if t.endswith("__patients")}
    assert {"bronze.h01_riverside__patients", "bronze.h02_dongcheng__patients"} <= patient_tables
    assert "bronze.h01_riverside__patients.birth_date" in bronze
    assert "bronze.h01_riverside__patients.id_number" in bronze  # birth date inside the resident ID as fallback
    with pytest.raises(LineageError, match="no such column"):
        column_lineage(spark, settings, "gold.person.blood_type")


def test_catalogue_site_lists_domains_tables_columns_classification_and_lineage(spark, settings, live_gold, dictionary,
                                                                                quality_run, tmp_path):
    from carelake.metadata.catalogue import build_catalogue

    report = build_catalogue(spark, settings, out_dir=tmp_path / "site", dictionary=dictionary)
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    for domain in dictionary.data_map.domains.values():
        assert domain.name_zh in index
    organizations = {r[0] for r in spark.sql("select distinct organization from quality.scores "
                                             "where source_id = '*' and period_type = 'month'").collect()}
    assert organizations and all(f"<td>{o}</td>" in index for o in organizations)
    for kind in yaml.safe_load((settings.metadata_dir / "master_data.yml").read_text(encoding="utf-8"))["kinds"]:
        assert f"<b>{kind}</b>" in index
    for table, columns in live_gold.items():
        page = (tmp_path / "site" / "tables" / f"{table}.html").read_text(encoding="utf-8")
        for column in columns:
            assert f'id="{column}"' in page, f"{table}.{column} missing from its page"
    person = (tmp_path / "site" / "tables" / "gold.person.html").read_text(encoding="utf-8")
    assert "出生年份" in person and 'class="lvl lvl3"' in person and "bronze.h01_riverside__patients" in person
    assert report.lineage_columns >= 0.9 * sum(len(c) for c in live_gold.values())
