"""
### carelake_ingest — landed extracts → bronze Delta tables

Daily (the run started at 00:00 UTC on day D+1 covers the data interval of day D), per source in `metadata/sources.yml` (dynamic task mapping): loads the files of the
run's **data interval** (the extract folder `YYYY-MM-DD` = the interval's first day) into
`bronze.<source>__<entity>`, rejected records into `bronze.quarantine`, and records every file
in `bronze.ingest_ledger`. Files already in the ledger are skipped, so rerunning an interval
changes nothing and a backfill loads exactly the past days' files. A file that does not
balance (read ≠ bronze + quarantined) fails the task. Emits the bronze asset, which
schedules the transform DAG.

Same step without Airflow: `carelake ingest --date YYYY-MM-DD [--source ID]`.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from carelake.orchestration import BRONZE_ASSET_URI, dag_defaults, interval_date


@dag(
    dag_id="carelake_ingest",
    # a data *interval* of one day: the run at D+1 00:00 loads day D's extracts (plain "@daily" would key it on D+1)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    tags=["carelake", "bronze", "ingest"],
    doc_md=__doc__,
    **dag_defaults(),
)
def carelake_ingest():
    @task
    def registered_sources() -> list[str]:
        from carelake.pipeline import source_ids

        return source_ids()

    # one source at a time: bronze tables differ, but the ledger and quarantine are shared Delta tables
    @task(max_active_tis_per_dag=1, outlets=[Asset(BRONZE_ASSET_URI)])
    def ingest_source(source_id: str, data_interval_start=None) -> dict:
        from carelake.pipeline import ingest_step

        return ingest_step(date=interval_date(data_interval_start), source_ids=[source_id])

    ingest_source.expand(source_id=registered_sources())


carelake_ingest()
