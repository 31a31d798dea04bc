"""What carelake's Airflow DAGs share: default task arguments, assets, and the local Airflow environment.

DAG files in ``dags/`` stay thin: they import this module (light: no Spark, no pandas)
and call :mod:`carelake.pipeline` inside their tasks.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from carelake.config import Settings, load_settings

OWNER = "carelake-data-engineering"

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=2),
}

# The start of the data the DAGs may be asked to (back)fill: the demo's first extract day; override per deployment.
START_DATE = os.environ.get("CARELAKE_DAG_START_DATE", "2026-09-01")


def dag_defaults(**overrides) -> dict:
    """Keyword arguments every carelake DAG shares: start date, no catch-up, one run at a time, task defaults.

    A DAG file passes its own ``dag_id``, ``schedule``, ``tags`` and ``doc_md`` next to ``**dag_defaults()``.
    """
    import pendulum

    return {"start_date": pendulum.parse(START_DATE, tz="UTC"), "catchup": False, "max_active_runs": 1,
            "default_args": DEFAULT_ARGS, **overrides}


# Asset URIs: a DAG that writes a layer names it as an outlet; the next layer's DAG is scheduled on it.
BRONZE_ASSET_URI = "carelake://lake/bronze"
SILVER_GOLD_ASSET_URI = "carelake://lake/gold"
QUALITY_ASSET_URI = "carelake://lake/quality"


def interval_date(data_interval_start) -> str:
    """The extract date a run covers: the first day of its data interval (YYYY-MM-DD)."""
    return data_interval_start.date().isoformat()


def quality_run_id(dag_run_id: str) -> str:
    """The quality run id of an Airflow DAG run (a retried task replaces its rows in quality.*)."""
    return f"airflow-{dag_run_id}"


def airflow_home(settings: Settings | None = None) -> Path:
    settings = settings or load_settings()
    return Path(os.environ.get("CARELAKE_AIRFLOW_HOME", settings.project_dir / ".airflow")).resolve()


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment for a local Airflow (SQLite metadata under the project, DAGs from ./dags, loopback only)."""
    settings = settings or load_settings()
    home = airflow_home(settings)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.project_dir / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": os.environ.get("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "2"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": os.environ.get("AIRFLOW__API__PORT", "8080"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": os.environ.get(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}"
        ),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "CARELAKE_HOME": str(settings.project_dir),
    }
