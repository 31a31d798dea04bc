"""
### carelake_quality — validate silver and gold after every transform

Scheduled on the gold asset (runs after `carelake_transform`). One task, `validate`, runs the three
check levels: at the source (the ingest ledger and quarantine), by rule (the Great Expectations
suites in `expectations/`, thresholds in `metadata/quality/thresholds.yml`) and by anomaly model
(`metadata/quality/anomaly.yml`). Everything lands in the `quality` database (results, scores,
failed_rows, daily_metrics, anomalies, alerts); GX Data Docs under `<lake>/_quality/data_docs`.

Threshold breaches and anomalies raise rows in `quality.alerts` (and the configured notifiers).
A failed rule of severity **critical** fails the task without retries, so the run shows red;
lesser breaches leave it green with alerts. The quality run id is `airflow-<dag run id>`, so a task
retry replaces that run's rows instead of adding a second run. Emits the quality asset.

Same step without Airflow: `carelake validate`.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from carelake.orchestration import QUALITY_ASSET_URI, SILVER_GOLD_ASSET_URI, dag_defaults, quality_run_id


@dag(
    dag_id="carelake_quality",
    schedule=[Asset(SILVER_GOLD_ASSET_URI)],
    tags=["carelake", "quality", "great-expectations"],
    doc_md=__doc__,
    **dag_defaults(),
)
def carelake_quality():
    @task(outlets=[Asset(QUALITY_ASSET_URI)])
    def validate(run_id=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from carelake.pipeline import QualityGateFailed, quality_step

        try:
            return quality_step(run_id=quality_run_id(run_id))
        except QualityGateFailed as exc:  # results are stored: retrying cannot change them
            raise AirflowFailException(str(exc)) from None

    validate()


carelake_quality()
