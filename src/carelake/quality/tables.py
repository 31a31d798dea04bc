"""DDL of every quality table (one place; see /work/helpers/quality_contract.md) and idempotent writes.

All tables are Delta tables in the ``quality`` database. A rerun of the same run (or period)
replaces its rows (``replaceWhere``); other runs' rows are kept. Creation and writes are retried on a
concurrent writer's conflict (:mod:`carelake.delta_retry`).
"""

from __future__ import annotations

DATABASE = "quality"

SCHEMAS: dict[str, str] = {
    "results": (
        "run_id string, run_at timestamp, level string, suite string, table_name string, source_id string, "
        "organization string, data_date date, dimension string, rule_id string, expectation_type string, "
        "column_name string, severity string, element_count bigint, unexpected_count bigint, "
        "unexpected_percent double, observed_value string, threshold_percent double, status string, success boolean"
    ),
    "scores": (
        "run_id string, run_at timestamp, source_id string, organization string, dimension string, "
        "period_type string, period_start date, element_count bigint, unexpected_count bigint, score double, "
        "threshold double, breached boolean"
    ),
    "failed_rows": (
        "run_id string, run_at timestamp, rule_id string, table_name string, source_id string, data_date date, "
        "record_id string, source_file string, row_number bigint, masked_values string"
    ),
    # H4: the anomaly level, alerts
    "daily_metrics": (
        "source_id string, table_name string, data_date date, metric string, value double, computed_at timestamp"
    ),
    "anomalies": (
        "run_id string, detected_at timestamp, source_id string, table_name string, metric string, data_date date, "
        "value double, expected double, lower double, upper double, score double, method string, direction string"
    ),
    "alerts": (
        "alert_id string, run_id string, raised_at timestamp, kind string, severity string, source_id string, "
        "organization string, dimension string, table_name string, metric string, data_date date, observed double, "
        "expected double, message string"
    ),
}

RESULTS = f"{DATABASE}.results"
SCORES = f"{DATABASE}.scores"
FAILED_ROWS = f"{DATABASE}.failed_rows"
DAILY_METRICS = f"{DATABASE}.daily_metrics"
ANOMALIES = f"{DATABASE}.anomalies"
ALERTS = f"{DATABASE}.alerts"


def qualified(name: str) -> str:
    return name if "." in name else f"{DATABASE}.{name}"


def schema_of(name: str):
    """The Spark StructType of a quality table (from its DDL)."""
    from pyspark.sql.types import StructType

    return StructType.fromDDL(SCHEMAS[name.split(".")[-1]])


def ensure_tables(spark, names: list[str] | None = None) -> None:
    """Create the quality tables that do not exist yet (Delta, in the ``quality`` database)."""
    from carelake.delta_retry import retrying

    retrying(lambda: spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"), f"create database {DATABASE}")
    for name in names or list(SCHEMAS):
        retrying(lambda name=name: spark.sql(f"CREATE TABLE IF NOT EXISTS {qualified(name)} ({SCHEMAS[name]}) USING delta"),
                 f"create {qualified(name)}")


def empty_frame(spark, name: str):
    return spark.createDataFrame([], schema_of(name))


def replace_rows(spark, frame, name: str, where: str) -> None:
    """Write ``frame`` into table ``name`` replacing exactly the rows matching ``where`` (idempotent rerun)."""
    ensure_tables(spark, [name.split(".")[-1]])
    columns = [f.name for f in schema_of(name).fields]
    from carelake.delta_retry import retrying

    retrying(lambda: frame.select(*columns).write.format("delta").mode("overwrite").option("replaceWhere", where)
             .saveAsTable(qualified(name)), f"write {qualified(name)}")
