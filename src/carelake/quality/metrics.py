"""The daily metric history the anomaly level learns from: ``quality.daily_metrics``.

One row per (source, table, extract date, metric):

* ``row_count`` — records received (``bronze.ingest_ledger`` rows_read, quarantined rows included), per
  bronze table and as ``table_name = '*'`` per source; a day on which a source delivered files but none
  for a table counts 0;
* ``null_rate:<column>`` — share of empty values of the key columns of ``metadata/quality/anomaly.yml``,
  one aggregation pass per bronze table (grouped by source and ``_extract_date``);
* ``unexpected_rate:<dimension>`` and ``checked_count:<dimension>`` — from a run's ``quality.results``
  (levels source and rule), ``table_name = '*'``.

``refresh_daily_metrics`` recomputes them and MERGEs on the key: reruns change nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from carelake.quality.tables import DAILY_METRICS as DAILY_METRICS_TABLE, RESULTS as RESULTS_TABLE

if TYPE_CHECKING:
    import pandas as pd


METRIC_KEY = ("source_id", "table_name", "data_date", "metric")
ALL_TABLES = "*"


def _ledger_volumes(spark) -> pd.DataFrame:
    from pyspark.sql import functions as F

    ledger = spark.table("bronze.ingest_ledger").where(F.col("extract_date").isNotNull() & F.col("bronze_table").isNotNull())
    return (ledger.groupBy("source_id", F.col("bronze_table").alias("table_name"), F.to_date("extract_date").alias("data_date"))
            .agg(F.sum("rows_read").cast("double").alias("value"))
            .toPandas())


def volume_metrics(volumes: pd.DataFrame) -> pd.DataFrame:
    """``row_count`` per table and per source (``'*'``), zero on the days a source delivered but a table got nothing."""
    import pandas as pd

    if volumes.empty:
        return volumes.assign(metric=pd.Series(dtype=str))
    grids = []
    for source_id, rows in volumes.groupby("source_id"):
        dates = sorted(rows["data_date"].unique())
        grid = pd.MultiIndex.from_product([[source_id], sorted(rows["table_name"].unique()), dates],
                                          names=["source_id", "table_name", "data_date"])
        grids.append(rows.groupby(["source_id", "table_name", "data_date"])["value"].sum().reindex(grid, fill_value=0.0).reset_index())
    per_table = pd.concat(grids, ignore_index=True)
    per_source = per_table.groupby(["source_id", "data_date"], as_index=False)["value"].sum().assign(table_name=ALL_TABLES)
    return pd.concat([per_table, per_source], ignore_index=True).assign(metric="row_count")


def _null_rates(spark, registry, columns_by_entity: dict[str, list[str]]) -> pd.DataFrame:
    import pandas as pd
    from pyspark.sql import functions as F

    existing = {f"bronze.{row.tableName}" for row in spark.sql("SHOW TABLES IN bronze").collect()}
    frames = []
    for source in registry.sources:
        for entity in source.entities:
            table = f"bronze.{source.bronze_table(entity)}"
            if table not in existing or entity not in columns_by_entity:
                continue
            frame = spark.table(table)
            columns = [c for c in columns_by_entity[entity] if c in frame.columns]
            if not columns or "_extract_date" not in frame.columns:
                continue
            empty = {c: F.sum(F.when(F.trim(F.col(c)).isNull() | (F.trim(F.col(c)) == ""), 1).otherwise(0)) for c in columns}
            counts = (frame.where(F.col("_extract_date").isNotNull())
                      .groupBy(F.col("_source_id").alias("source_id"), F.to_date("_extract_date").alias("data_date"))
                      .agg(F.count(F.lit(1)).alias("_rows"), *[expr.alias(c) for c, expr in empty.items()])
                      .toPandas())  # one pass over the table for all its columns
            for column in columns:
                frames.append(counts.assign(table_name=table, metric=f"null_rate:{column}",
                                            value=counts[column] / counts["_rows"])[["source_id", "table_name", "data_date", "metric", "value"]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["source_id", "table_name", "data_date", "metric", "value"])


def latest_run_id(spark) -> str | None:
    if not spark.catalog.tableExists(RESULTS_TABLE):
        return None
    row = spark.table(RESULTS_TABLE).where("level <> 'anomaly'").orderBy("run_at", ascending=False).select("run_id").first()
    return row["run_id"] if row else None


def _unexpected_rates(spark, run_id: str | None) -> pd.DataFrame:
    import pandas as pd
    from pyspark.sql import functions as F

    run_id = run_id or latest_run_id(spark)
    if run_id is None:
        return pd.DataFrame(columns=["source_id", "table_name", "data_date", "metric", "value"])
    counts = (spark.table(RESULTS_TABLE)
              .where((F.col("run_id") == run_id) & F.col("level").isin("source", "rule") & F.col("data_date").isNotNull()
                     & F.col("source_id").isNotNull() & (F.col("source_id") != ALL_TABLES))
              .groupBy("source_id", "data_date", "dimension")
              .agg(F.sum("element_count").cast("double").alias("elements"), F.sum("unexpected_count").cast("double").alias("unexpected"))
              .toPandas())
    counts = counts[counts["elements"] > 0]
    rates = counts.assign(metric="unexpected_rate:" + counts["dimension"], value=counts["unexpected"] / counts["elements"])
    checked = counts.assign(metric="checked_count:" + counts["dimension"], value=counts["elements"])
    return pd.concat([rates, checked], ignore_index=True).assign(table_name=ALL_TABLES)[
        ["source_id", "table_name", "data_date", "metric", "value"]]


def compute_daily_metrics(spark, registry, columns_by_entity: dict[str, list[str]], results_run_id: str | None = None) -> pd.DataFrame:
    import pandas as pd

    frames = [volume_metrics(_ledger_volumes(spark)), _null_rates(spark, registry, columns_by_entity),
              _unexpected_rates(spark, results_run_id)]
    metrics = pd.concat([f[["source_id", "table_name", "data_date", "metric", "value"]] for f in frames if not f.empty], ignore_index=True)
    metrics["data_date"] = pd.to_datetime(metrics["data_date"]).dt.date
    return metrics


def write_daily_metrics(spark, metrics: pd.DataFrame) -> None:
    """MERGE on (source, table, date, metric): a rerun updates values in place, never duplicates."""
    from delta.tables import DeltaTable

    from carelake.quality.tables import ensure_tables, schema_of

    ensure_tables(spark, ["daily_metrics"])
    frame = spark.createDataFrame(metrics.assign(computed_at=datetime.now(timezone.utc).replace(tzinfo=None)),
                                  schema=schema_of(DAILY_METRICS_TABLE))
    condition = " AND ".join(f"t.{c} = s.{c}" for c in METRIC_KEY)
    (DeltaTable.forName(spark, DAILY_METRICS_TABLE).alias("t").merge(frame.alias("s"), condition)
     .whenMatchedUpdate(condition="t.value <> s.value OR (t.value IS NULL) <> (s.value IS NULL)", set={"value": "s.value", "computed_at": "s.computed_at"})
     .whenNotMatchedInsertAll().execute())


def refresh_daily_metrics(spark, registry, columns_by_entity: dict[str, list[str]], results_run_id: str | None = None) -> pd.DataFrame:
    metrics = compute_daily_metrics(spark, registry, columns_by_entity, results_run_id)
    write_daily_metrics(spark, metrics)
    return metrics
