"""The pipeline's steps as plain functions: the CLI and the Airflow DAGs call the same code.

Each step takes the data interval's date (``YYYY-MM-DD``) where it applies, never "now",
so a backfill of past days does exactly what the original runs would have done. Each
returns a small JSON-able summary (it becomes the task's XCom) and raises
:class:`StepFailed` with a one-line reason when the step must fail the run.
"""

from __future__ import annotations

from carelake.config import Settings, load_settings


class StepFailed(RuntimeError):
    """A pipeline step finished but its result must fail the run (e.g. an unbalanced ledger)."""


def ingest_step(date: str | None = None, source_ids: list[str] | None = None, settings: Settings | None = None,
                fail_on_error: bool = False) -> dict:
    """Load the landed files of one extract date (all dates when None) into bronze."""
    from carelake.ingest import ingest
    from carelake.registry import load_registry

    settings = settings or load_settings()
    report = ingest(settings, load_registry(settings), source_ids=source_ids, date=date)
    summary = {
        "batch_id": report.batch_id,
        "date": date,
        "sources": source_ids,
        **report.totals(),
        "failed_files": [o.describe() for o in report.failed],
        "schema_drift": report.drift,
        "seconds": {k: round(v, 2) for k, v in report.seconds.items()},
    }
    if not report.balanced:
        unbalanced = [str(o.file.path) for o in report.outcomes if not o.balanced]
        raise StepFailed(f"ledger does not balance for {len(unbalanced)} file(s): {', '.join(unbalanced[:5])}")
    if fail_on_error and report.failed:
        raise StepFailed(f"{len(report.failed)} file(s) failed: " + "; ".join(summary["failed_files"][:5]))
    return summary


def source_ids(settings: Settings | None = None) -> list[str]:
    """The registry's source ids (light: reads YAML only), for DAGs to map tasks over."""
    from carelake.registry import load_registry

    return [s.id for s in load_registry(settings or load_settings()).sources]


def transform_step(settings: Settings | None = None, select: str | list[str] | None = None, full_refresh: bool = False,
                   steps: list[str] | None = None, dbt_tests: bool = True) -> str:
    """Build silver (dbt), link patients (MPI), de-identify, build gold (dbt); dbt tests run as part of the builds
    unless ``dbt_tests`` is false.

    ``steps`` picks some of :data:`carelake.transform.STEPS` (the Airflow tasks run one each);
    ``select`` builds one dbt selection instead.
    """
    from carelake.transform import TransformFailed, transform

    try:
        return transform(settings or load_settings(), select=select, full_refresh=full_refresh, steps=steps,
                         dbt_tests=dbt_tests)
    except TransformFailed as exc:
        raise StepFailed(str(exc)) from None


class QualityGateFailed(StepFailed):
    """Validation ran and its results are stored, but a critical rule failed its threshold."""


def quality_step(settings: Settings | None = None, tables: list[str] | None = None, run_id: str | None = None) -> dict:
    """Validate silver and gold (all three levels), write quality.* tables, raise alerts.

    Fails (``QualityGateFailed``) when a rule of severity ``critical`` failed its threshold;
    lesser breaches pass the step and show as alerts and in the report.
    """
    from carelake.quality import validate
    from carelake.quality.checked_tables import read_tables
    from carelake.spark import get_spark

    settings = settings or load_settings()
    spark = get_spark(settings)
    run = validate(settings, spark, run_id=run_id, tables=tables)
    _record_pipeline_read(spark, settings, [read_tables(t) for t in run.tables],
                          purpose="quality validation", details={"quality_run_id": run.run_id})
    summary = {"run_id": run.run_id, "tables": run.tables, "results": run.status_counts,
               "critical_failures": run.critical_failures}
    if not run.gate_passed:
        raise QualityGateFailed(f"quality run {run.run_id}: {len(run.critical_failures)} critical rule failure(s): "
                                + "; ".join(run.critical_failures[:5]))
    return summary


def _record_pipeline_read(spark, settings: Settings, tables: list[str], purpose: str, details: dict) -> None:
    """An access record in the hash-chained audit log for a pipeline step that read silver or gold."""
    import getpass

    from carelake.access import record_access

    record_access(spark, settings, user=f"carelake-pipeline:{getpass.getuser()}", role="data_engineer", tables=tables,
                  purpose=purpose, action="dag_read", details=details)


def report_step(month: str, settings: Settings | None = None) -> str:
    """Write the monthly quality report (HTML) for ``YYYY-MM``; returns its path."""
    from carelake.quality.report import build_report
    from carelake.spark import get_spark

    settings = settings or load_settings()
    return str(build_report(get_spark(settings), settings, month))


def dashboard_step(settings: Settings | None = None) -> str:
    """Regenerate the operations dashboard (metadata/operations/indicators.yml); returns the page's path."""
    from carelake.operations.dashboard import build_dashboard
    from carelake.spark import get_spark

    settings = settings or load_settings()
    return str(build_dashboard(get_spark(settings), settings))
