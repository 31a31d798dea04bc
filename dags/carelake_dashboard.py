"""
### carelake_dashboard — regenerate the operations dashboard after every run

Scheduled on any of the lake's assets: after each `carelake_ingest` (bronze), `carelake_transform` (gold) and
`carelake_quality` (quality) run that succeeded, one task, `build_dashboard`, evaluates every indicator of
`metadata/operations/indicators.yml` (files and rows received, quarantine, lateness, run times per stage, quality
scores, alerts, MPI link rate, mapping coverage, storage per layer, backup age) and writes the self-contained page
`<lake>/_dashboard/index.html` with `dashboard.json` beside it; the values are appended to `ops.indicator_values`.

Same step without Airflow: `carelake dashboard`.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from carelake.orchestration import BRONZE_ASSET_URI, QUALITY_ASSET_URI, SILVER_GOLD_ASSET_URI, dag_defaults


@dag(
    dag_id="carelake_dashboard",
    schedule=(Asset(BRONZE_ASSET_URI) | Asset(SILVER_GOLD_ASSET_URI) | Asset(QUALITY_ASSET_URI)),
    tags=["carelake", "operations", "dashboard"],
    doc_md=__doc__,
    **dag_defaults(),
)
def carelake_dashboard():
    @task
    def build_dashboard() -> str:
        from carelake.pipeline import dashboard_step

        return dashboard_step()

    build_dashboard()


carelake_dashboard()
