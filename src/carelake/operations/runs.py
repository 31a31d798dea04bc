"""Every pipeline step run, recorded in the Delta table ``ops.pipeline_runs`` (one small append per run).

A step function is wrapped with :func:`recorded`::

    @recorded("mpi")
    def run_mpi(settings, spark=None): ...

Each call appends one row: the pipeline run id (``CARELAKE_RUN_ID``, e.g. the Airflow DAG run, else one id per
process), the step, the source where the step has one, start, end, seconds, ``success`` or ``failed``, rows
where the step counts them, and the error. A failing step is recorded as ``failed`` and its exception re-raised;
a step that returns a failed result (a dbt build) is recorded as ``failed`` too. A record that cannot be written
is logged, never fails the step it describes.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

log = logging.getLogger(__name__)

DATABASE = "ops"
RUNS_TABLE = f"{DATABASE}.pipeline_runs"
RUNS_DDL = ("run_id string, step string, source_id string, started_at timestamp, finished_at timestamp, "
            "seconds double, status string, rows bigint, error string")
RUN_ID_VARIABLE = "CARELAKE_RUN_ID"
_PROCESS_RUN_ID = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def current_run_id() -> str:
    """The pipeline run a step belongs to: ``CARELAKE_RUN_ID`` when set (an Airflow DAG run), else this process's."""
    return os.environ.get(RUN_ID_VARIABLE) or _PROCESS_RUN_ID


@dataclass
class StepOutcome:
    """What a step's result says about itself: rows it handled, and an error when the result is a failure."""
    rows: int | None = None
    error: str | None = None


_TABLE_READY: set[tuple[int, str]] = set()  # (session, lake) pairs whose runs table exists: checked once


def ensure_runs_table(spark, settings) -> None:
    """``ops.pipeline_runs`` under ``<lake>/ops`` (created once per session and lake; later calls are free)."""
    key = (id(spark), str(settings.lake_root))
    if key in _TABLE_READY:
        return
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE} LOCATION '{settings.lake_root / DATABASE}'")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} ({RUNS_DDL}) USING delta")
    _TABLE_READY.add(key)


def write_run(spark, settings, step: str, started_at: datetime, finished_at: datetime, outcome: StepOutcome,
              source_id: str | None = None) -> None:
    """Append one run record."""
    from pyspark.sql.types import StructType

    ensure_runs_table(spark, settings)
    status = "failed" if outcome.error else "success"
    row = (current_run_id(), step, source_id, started_at.replace(tzinfo=None), finished_at.replace(tzinfo=None),
           round((finished_at - started_at).total_seconds(), 3), status, outcome.rows,
           (outcome.error or None) and outcome.error[:2000])
    spark.createDataFrame([row], StructType.fromDDL(RUNS_DDL)).write.format("delta").mode("append").saveAsTable(RUNS_TABLE)


def recorded(step: str | Callable[[dict], str], outcome: Callable[[Any], StepOutcome] | None = None,
             source: Callable[[dict], str | None] | None = None):
    """Decorate a step function so each call is recorded in ``ops.pipeline_runs``.

    ``step``: the step name, or a function of the call's arguments (by name) giving it; ``outcome``: rows and
    failure read from the returned value; ``source``: the source id from the arguments. The function's
    ``settings`` and ``spark`` arguments are used when given (else the configured settings and the shared session).
    """
    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            started = datetime.now(timezone.utc)
            clock = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            except Exception as exc:
                _record(arguments, step, started, clock, StepOutcome(error=f"{type(exc).__name__}: {exc}"), source)
                raise
            _record(arguments, step, started, clock, outcome(result) if outcome else StepOutcome(), source)
            return result

        return wrapper

    return decorate


def _record(arguments: dict, step, started: datetime, clock: float, outcome: StepOutcome, source) -> None:
    from carelake.config import load_settings
    from carelake.spark import get_spark

    finished = started + timedelta(seconds=time.perf_counter() - clock)
    name = step(arguments) if callable(step) else step
    try:
        settings = arguments.get("settings") or load_settings()
        spark = arguments.get("spark") or get_spark(settings)
        write_run(spark, settings, name, started, finished, outcome, source(arguments) if source else None)
    except Exception as exc:  # the record describes the step; it must not fail it
        log.warning("could not record pipeline step %s in %s: %s", name, RUNS_TABLE, exc)

