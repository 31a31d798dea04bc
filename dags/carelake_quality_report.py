"""
### carelake_quality_report — the monthly quality report

`@monthly`: the run whose data interval is a month (e.g. 2026-10-01 → 2026-11-01, started on
1 November) writes the self-contained HTML report for that month to
`<lake>/_reports/quality-YYYY-MM.html`: hospitals × dimensions scorecard, month-over-month trends,
the 5+3+2 summary, top failing rules with masked examples, timeliness per source, anomalies and
alerts. Keyed on the data interval, so a backfill re-creates past months' reports.

Same step without Airflow: `carelake report --month YYYY-MM`.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from carelake.orchestration import dag_defaults


@dag(
    dag_id="carelake_quality_report",
    # a data *interval* of one month (Airflow 3's plain "@monthly" would give a zero-length interval at the trigger time)
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    tags=["carelake", "quality", "report"],
    doc_md=__doc__,
    **dag_defaults(),
)
def carelake_quality_report():
    @task
    def monthly_report(data_interval_start=None) -> str:
        from carelake.pipeline import report_step

        return report_step(month=data_interval_start.strftime("%Y-%m"))

    monthly_report()


carelake_quality_report()
