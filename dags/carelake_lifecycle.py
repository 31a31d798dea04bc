"""
### carelake_lifecycle — erasure requests, then retention, archive and VACUUM

`@weekly`. Four tasks:

1. `erasure_requests`: every pending request file in `<lake>/_governance/erasure_requests/*.yml`
   (`person: <person_id | source_id:patient_source_id>`, `reason:`, `requested_by:`) erases that person
   from bronze, silver, gold, quality and the archive, vacuums those tables with retention 0 and records
   the erasure in `audit.access_log` (keyed reference only); the request file is then removed.
2. `retention`: `metadata/lifecycle.yml` per table — rows older than `archive_after_days` move to
   `<lake>/_archive/<db>/<table>`, rows past `retention_days` are deleted, then VACUUM. The reference
   date is the end of the run's data interval, so a rerun of the same interval archives nothing new.
3. `housekeeping`: small files (`metadata/lifecycle.yml`, `housekeeping:`) — sets Delta auto compaction on the
   tables whose rule asks for it and OPTIMIZEs every Delta table with more data files than its
   `optimize_above_files`; the files it replaces are removed by a later VACUUM (retention), never by this task.
   Before the backup, so the backup copies the compacted files.
4. `backup`: a backup of the whole lake (Delta files and logs, other lake files, the catalog) to the
   location in `metadata/lifecycle.yml` (`backup:`): full when the newest full one is older than
   `full_every_days`, else incremental (only the files the Delta logs added since the last backup).

Same steps without Airflow: `carelake erase --person ... --reason ...`, `carelake lifecycle run --as-of DATE`,
`carelake housekeeping`, `carelake backup`.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from carelake.orchestration import dag_defaults


@dag(
    dag_id="carelake_lifecycle",
    schedule=CronDataIntervalTimetable("@weekly", timezone="UTC"),  # a week-long data interval
    tags=["carelake", "governance", "lifecycle"],
    doc_md=__doc__,
    **dag_defaults(),
)
def carelake_lifecycle():
    @task
    def erasure_requests() -> list[str]:
        from carelake.lifecycle import erasure_step

        return erasure_step()

    @task
    def retention(data_interval_end=None) -> list[str]:
        from carelake.lifecycle import lifecycle_step

        return lifecycle_step(as_of=data_interval_end.date().isoformat())

    @task
    def housekeeping() -> list[str]:
        from carelake.lifecycle import housekeeping_step

        return housekeeping_step()

    @task
    def backup() -> str:
        from carelake.backup import backup_step

        return backup_step()

    erasure_requests() >> retention() >> housekeeping() >> backup()


carelake_lifecycle()
