"""Names and small helpers for the lake's databases and tables."""

from __future__ import annotations

from carelake.spark import LAYERS


def list_tables(spark, layers: list[str] | None = None) -> list[str]:
    names = []
    for layer in layers or LAYERS:
        names.extend(f"{layer}.{row.tableName}" for row in spark.sql(f"SHOW TABLES IN {layer}").collect() if not row.isTemporary)
    return sorted(names)


def table_counts(spark, layers: list[str] | None = None) -> list[tuple[str, int]]:
    return [(name, spark.table(name).count()) for name in list_tables(spark, layers)]


def content_hash(spark, table: str, exclude: tuple[str, ...] = ("_batch_id", "_ingested_at")) -> str:
    """An order-independent hash of a table's content (ignoring per-run columns): equal tables, equal hashes."""
    return frame_hash(spark.table(table), exclude)


def frame_hash(frame, exclude: tuple[str, ...] = ()) -> str:
    """``rows:hash`` of a DataFrame, independent of row order: the sum of a 64-bit hash of every row."""
    from pyspark.sql import functions as F

    columns = sorted(c for c in frame.columns if c not in exclude)
    row_hash = F.xxhash64(*[F.coalesce(F.col(f"`{c}`").cast("string"), F.lit("\u0000")) for c in columns])
    result = frame.select(row_hash.alias("h")).agg(F.count("*").alias("n"), F.sum(F.col("h").cast("decimal(38,0)")).alias("s")).first()
    return f"{result['n']}:{result['s']}"
