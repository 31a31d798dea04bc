"""The analyst notebooks run top to bottom on the demo lake (their own kernel and Spark session on the shared
catalog, through the masked views) and their key numbers equal direct queries of the base tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def role_views(spark, settings, gold):
    """The masked views of the roles the notebooks read as (built like `carelake views build`)."""
    from carelake.access.roles import build_views, load_roles

    roles = load_roles(settings)
    return build_views(spark, settings, roles={r: roles[r] for r in ("analyst", "researcher")})


def run_notebook(name: str, tmp_path: Path) -> dict:
    """Execute one notebook in a fresh kernel (it inherits the CARELAKE_* environment of this session);
    returns its RESULT line as a dict."""
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(book, tmp_path / f"{name}.ipynb")  # the executed copy, for a look after a failure
    texts = [out.get("text", "") for cell in book.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    lines = [line for text in texts for line in text.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, f"{name}: expected one RESULT line, got {lines}"
    return json.loads(lines[0][len("RESULT "):])


def _audited(spark, purpose_fragment: str) -> int:
    from carelake.access.audit import AUDIT_TABLE

    return spark.table(AUDIT_TABLE).where(f"purpose like '%{purpose_fragment}%'").count()


def test_cohort_notebook_counts_the_t2dm_persons_and_their_hba1c(spark, role_views, tmp_path):
    result = run_notebook("01_cohort_t2dm_hba1c", tmp_path)
    expected = spark.sql("select count(distinct person_id) from gold.condition_occurrence "
                         "where condition_source_value like 'E11%'").first()[0]
    hba1c = spark.sql("""select count(*) from gold.measurement m join gold.concept c on c.concept_id = m.measurement_concept_id
                         where c.concept_code = '4548-4' and m.value_as_number is not null""").first()[0]
    assert expected > 0 and result["cohort_size"] == expected
    assert result["hba1c_results"] == hba1c > 0
    assert 0 <= result["control_rate"] <= 1
    assert _audited(spark, "01_cohort_t2dm_hba1c") >= 2  # the cohort and the HbA1c queries, each audited


def test_surveillance_notebook_counts_fever_and_respiratory_visits_per_week(spark, role_views, tmp_path):
    result = run_notebook("02_surveillance_fever_respiratory", tmp_path)
    expected = spark.sql("""select count(distinct c.visit_occurrence_id) from gold.condition_occurrence c
                            join gold.visit_occurrence v on v.visit_occurrence_id = c.visit_occurrence_id
                            where c.condition_source_value rlike '^(R50|J0[0-9]|J1[0-9]|J2[0-2])'""").first()[0]
    weeks = spark.sql("""select datediff(max(w), min(w)) / 7 + 1 from (
                           select date_trunc('week', v.visit_start_date) as w from gold.condition_occurrence c
                           join gold.visit_occurrence v on v.visit_occurrence_id = c.visit_occurrence_id
                           where c.condition_source_value rlike '^(R50|J0[0-9]|J1[0-9]|J2[0-2])')""").first()[0]
    assert expected > 0 and result["syndromic_visits"] == expected
    assert result["weeks"] == weeks
    assert result["alerts"] == len(result["alert_weeks"])


def test_operations_notebook_admissions_length_of_stay_and_bed_days(spark, role_views, tmp_path):
    result = run_notebook("03_hospital_operations_kpis", tmp_path)
    row = spark.sql("""select count(*) as admissions, avg(datediff(visit_end_date, visit_start_date)) as alos,
                              sum(datediff(visit_end_date, visit_start_date)) as bed_days,
                              count(distinct _source_id) as hospitals
                       from gold.visit_occurrence where visit_concept_id = 9201""").first()
    assert row.admissions > 0 and result["admissions"] == row.admissions
    assert result["average_los"] == pytest.approx(row.alos, abs=1e-4)
    assert result["bed_days"] == row.bed_days  # per-midnight census summed over all days = total nights
    assert result["hospitals"] == row.hospitals


def test_quality_dashboard_notebook_shows_the_latest_scores(spark, role_views, quality_run, tmp_path):
    from pyspark.sql import functions as F

    result = run_notebook("04_data_quality_dashboard", tmp_path)
    monthly = spark.table("quality.scores").where("source_id = '*' and period_type = 'month'")
    run = monthly.where(F.col("run_at") == monthly.agg(F.max("run_at")).first()[0])
    month, worst = run.agg(F.max("period_start"), F.min("score")).first()
    organizations = run.where(F.col("period_start") == month).select("organization").distinct().count()
    assert result["month"] == str(month)
    assert result["worst_score"] == pytest.approx(worst, abs=1e-4)
    assert result["organizations"] == organizations > 0
    mapped = spark.sql("select sum(mapped_records) / sum(total_records) from gold.mapping_coverage").first()[0]
    assert result["mapping_ratio"] == pytest.approx(float(mapped), abs=1e-4)
