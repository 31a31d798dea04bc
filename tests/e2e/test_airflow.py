"""The Airflow 3 DAGs: integrity, and real `dag.test()` runs on Spark + Delta keyed on the data interval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_dag

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_dags):
    return airflow_dags


# the schedules the README and the DAG docs promise: daily and monthly data intervals, or the asset written upstream
SCHEDULES = {
    "carelake_ingest": ("CronDataIntervalTimetable", "0 0 * * *"),
    "carelake_transform": ("AssetTriggeredTimetable", "carelake://lake/bronze"),
    "carelake_quality": ("AssetTriggeredTimetable", "carelake://lake/gold"),
    "carelake_quality_report": ("CronDataIntervalTimetable", "0 0 1 * *"),
    "carelake_lifecycle": ("CronDataIntervalTimetable", "0 0 * * 0"),
    "carelake_dashboard": ("AssetTriggeredTimetable", "carelake://lake/quality"),
}


def test_dags_import_cleanly_with_owners_retries_docs_and_documented_schedules(dagbag):
    from airflow.utils.dag_cycle_tester import check_cycle

    assert dagbag.import_errors == {}
    assert set(SCHEDULES) <= set(dagbag.dags)
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and "carelake" in dag.tags, dag_id
        check_cycle(dag)
        kind, expected = SCHEDULES.get(dag_id, (None, None))
        if kind:
            timetable = dag.timetable
            assert type(timetable).__name__ == kind, (dag_id, timetable)
            assert expected in (getattr(timetable, "_expression", None) or str(dag.timetable.asset_condition)), dag_id
        for task in dag.tasks:
            assert task.owner == "carelake-data-engineering", (dag_id, task.task_id)
            assert task.retries >= 1 and task.execution_timeout is not None, (dag_id, task.task_id)


def test_dag_files_do_no_heavy_work_at_import(airflow_dags):
    """Parsing the DAG folder must not import Spark, pandas-heavy libraries or touch the lake."""
    code = (
        "import sys, json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r})\n"
        "heavy = [m for m in ('pyspark', 'delta', 'great_expectations', 'dbt', 'presidio_analyzer', 'splink') if m in sys.modules]\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"errors": {}, "heavy": []}


@pytest.fixture(scope="module")
def three_days(settings, tmp_path_factory):
    """Two generated sources (CSV + HL7) with three days of extracts, in their own landing and registry."""
    from carelake.generate import generate, registry_entries

    root = tmp_path_factory.mktemp("airflow_landing")
    summary = generate(root, hospitals=4, patients=40, days=3, start_date="2026-10-03", seed=11)
    entries = [{**e, "id": e["id"].replace("h0", "af0")} for e in registry_entries(4) if e["id"] in ("h01_riverside", "h04_nanhu_adt")]
    for entry, original in zip(entries, ("h01_riverside", "h04_nanhu_adt")):
        entry["entities"] = {name: {**spec, "path": spec["path"].replace("{landing}", str(root))}
                             for name, spec in entry["entities"].items()}
    registry_file = root / "sources.yml"
    registry_file.write_text(yaml.safe_dump({"sources": entries}, allow_unicode=True), encoding="utf-8")
    expected: dict[str, int] = {}
    for source_id, _entity, _file, records, day in summary.files:
        if source_id in ("h01_riverside", "h04_nanhu_adt"):
            expected[day] = expected.get(day, 0) + records
    return registry_file, expected


def _ledger_by_date(spark) -> dict[str, int]:
    rows = spark.sql(
        "SELECT extract_date, sum(rows_read) AS n FROM bronze.ingest_ledger WHERE source_id LIKE 'af0%' GROUP BY extract_date"
    ).collect()
    return {r.extract_date: r.n for r in rows}


def test_ingest_dag_loads_exactly_its_interval_and_reruns_change_nothing(spark, dagbag, three_days, monkeypatch):
    registry_file, expected = three_days
    monkeypatch.setenv("CARELAKE_REGISTRY", str(registry_file))

    run = run_dag(dagbag, "carelake_ingest", "2026-10-03")
    assert run.state == "success"
    assert _ledger_by_date(spark) == {"2026-10-03": expected["2026-10-03"]}
    version = spark.sql("DESCRIBE HISTORY bronze.af01_riverside__patients LIMIT 1").first()["version"]

    assert run_dag(dagbag, "carelake_ingest", "2026-10-03").state == "success"  # same interval again
    assert spark.sql("DESCRIBE HISTORY bronze.af01_riverside__patients LIMIT 1").first()["version"] == version

    for day in ("2026-10-04", "2026-10-05"):  # a backfill of the two past days
        assert run_dag(dagbag, "carelake_ingest", day).state == "success"
    assert _ledger_by_date(spark) == expected
    bronze = spark.table("bronze.af04_nanhu_adt__messages").groupBy("_extract_date").count().collect()
    assert sorted(r["_extract_date"].isoformat() for r in bronze) == sorted(expected)


def test_monthly_report_dag_writes_the_report_of_its_interval_month(quality_run, spark, settings, dagbag):
    """The @monthly run whose data interval is October writes October's report (keyed on the interval, not on now)."""
    from carelake.quality.report import Month, default_report_path

    month = min(r[0] for r in spark.sql(
        f"select date_format(period_start, 'yyyy-MM') from quality.scores where run_id = '{quality_run.run_id}' "
        "and period_type = 'month'").collect())
    path = default_report_path(settings, Month.parse(month))
    path.unlink(missing_ok=True)
    run = run_dag(dagbag, "carelake_quality_report", f"{month}-01")
    assert run.state == "success"
    assert run.data_interval_start.strftime("%Y-%m") == month and run.data_interval_end.month != run.data_interval_start.month
    html = path.read_text(encoding="utf-8")
    sources = {r[0] for r in spark.sql(f"select distinct source_id from quality.scores where run_id = '{quality_run.run_id}' "
                                        f"and period_type = 'month' and date_format(period_start, 'yyyy-MM') = '{month}'").collect()}
    assert month in html and sources and all(s in html for s in sources if s != "*")


def test_dashboard_dag_regenerates_the_page_after_a_run(quality_run, settings, dagbag):
    """The dashboard DAG (scheduled on the lake's assets) runs its one task in-process and writes the page and its data."""
    from carelake.operations.dashboard import JSON_NAME, default_dashboard_path

    page = default_dashboard_path(settings)
    page.unlink(missing_ok=True)
    dag = dagbag.get_dag("carelake_dashboard")
    assert all(uri in str(dag.timetable.asset_condition) for uri in ("carelake://lake/bronze", "carelake://lake/gold"))
    assert run_dag(dagbag, "carelake_dashboard").state == "success"
    html = page.read_text(encoding="utf-8")
    values = json.loads((page.parent / JSON_NAME).read_text(encoding="utf-8"))["values"]
    assert "operations dashboard" in html and len({v["indicator_id"] for v in values}) >= 50
