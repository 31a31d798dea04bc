"""Database sources (``format: jdbc``): incremental pulls from a hospital's reporting database into bronze.

Per entity (a ``table`` or a ``query`` of the source), a pull reads over JDBC (``spark.read.jdbc``) only
the rows whose ``watermark`` column is above the last pulled value (the predicate is pushed down to the
database), then MERGEs them into ``bronze.<source>__<entity>`` by the entity's ``key``: late updates
replace the row, new rows are inserted, rows whose ``deleted_flag`` is set are deleted from bronze.
Values stay raw strings with the usual lineage columns. Every pull is one ``bronze.ingest_ledger`` row
whose file path is ``jdbc://<source>/<table>@<watermark>`` (rows read = rows applied to bronze), and the
new high-water mark goes to ``bronze.ingest_watermarks`` last: a crash before it repeats the pull,
which the merge makes harmless.

Credentials never come from the registry: ``CARELAKE_SOURCE_<ID>_USER`` / ``CARELAKE_SOURCE_<ID>_PASSWORD``
(``<ID>`` = the source id in upper case), else the Airflow connection named by ``jdbc.airflow_conn_id``.
The PostgreSQL driver is resolved with the Delta jars (carelake.jars); MySQL / SQL Server need their
driver jar on ``spark.jars`` and the URL only.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from carelake.ingest.columns import LINEAGE_COLUMNS, bronze_names
from carelake.ingest.runner import FileOutcome, new_batch_id, write_ledger
from carelake.ingest.tables import ensure_tables
from carelake.registry import EntitySpec, SourceSpec

WATERMARK_TABLE = "bronze.ingest_watermarks"
WATERMARK_DDL = ("source_id STRING, entity STRING, watermark_column STRING, watermark STRING, rows_pulled BIGINT, "
                 "batch_id STRING, pulled_at TIMESTAMP")
DRIVERS = {"postgresql": "org.postgresql.Driver", "mysql": "com.mysql.cj.jdbc.Driver",
           "sqlserver": "com.microsoft.sqlserver.jdbc.SQLServerDriver"}
DELETED_VALUES = ("true", "t", "1", "y", "yes")


class PullFailed(RuntimeError):
    """A pull could not run; the message is one line naming the source."""


@dataclass(frozen=True)
class PulledTable:
    """What the ledger records for one pull (in place of a landed file)."""

    source: SourceSpec
    entity: EntitySpec
    path: str  # jdbc://<source>/<table>@<watermark>
    extract_date: str
    sha256: str
    size: int = 0

    @property
    def table(self) -> str:
        return self.source.bronze_table(self.entity.name)


@dataclass
class PullResult:
    source_id: str
    entity: str
    path: str = ""
    rows: int = 0
    deleted: int = 0
    watermark_before: str | None = None
    watermark_after: str | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"FAILED {self.source_id}.{self.entity}: {self.error}"
        return (f"{self.source_id}.{self.entity}: {self.rows} row(s) ({self.deleted} deletion(s)), "
                f"watermark {self.watermark_before or '-'} -> {self.watermark_after or '-'}")


def credentials(source: SourceSpec) -> tuple[str, str]:
    prefix = f"CARELAKE_SOURCE_{source.id.upper()}_"
    user, password = os.environ.get(prefix + "USER"), os.environ.get(prefix + "PASSWORD")
    if user is not None:
        return user, password or ""
    conn_id = source.jdbc.airflow_conn_id if source.jdbc else None
    if conn_id:
        try:
            from airflow.models.connection import Connection

            conn = Connection.get_connection_from_secrets(conn_id)
            return conn.login or "", conn.password or ""
        except Exception as exc:  # airflow missing or connection unknown
            raise PullFailed(f"source {source.id}: Airflow connection {conn_id!r} not available ({type(exc).__name__})") from None
    raise PullFailed(f"source {source.id}: no credentials: set {prefix}USER and {prefix}PASSWORD "
                     "or jdbc.airflow_conn_id in the registry")


def driver_of(source: SourceSpec) -> str:
    if source.jdbc.driver:
        return source.jdbc.driver
    kind = source.jdbc.url.split(":", 2)[1]
    if kind not in DRIVERS:
        raise PullFailed(f"source {source.id}: no default JDBC driver for {kind!r}; set jdbc.driver")
    return DRIVERS[kind]


def _one_line(exc: Exception) -> str:
    """The root cause of a JDBC failure, one line (e.g. 'Connection refused', 'password authentication failed')."""
    # Spark wraps the driver's error ("Couldn't connect to the database"); the root cause is the last
    # "Caused by:" of the Java stack trace that PySpark keeps with the exception
    trace = f"{exc}\n{getattr(exc, '_stackTrace', '') or ''}"
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by: ")]
    causes = causes or [line for line in lines if "Exception:" in line and not line.startswith("at ")]
    text = causes[-1] if causes else (lines[0] if lines else type(exc).__name__)
    return " ".join(text.split("Exception: ", 1)[-1].split())[:240]


def ensure_watermark_table(spark) -> None:
    spark.sql(f"CREATE TABLE IF NOT EXISTS {WATERMARK_TABLE} ({WATERMARK_DDL}) USING delta")


def watermarks(spark, source_id: str) -> dict[str, str]:
    rows = spark.table(WATERMARK_TABLE).where(f"source_id = '{source_id}'").select("entity", "watermark").collect()
    return {r.entity: r.watermark for r in rows}


def read_changes(spark, source: SourceSpec, entity: EntitySpec, since: str | None, user: str, password: str):
    """The entity's rows changed after ``since`` (None: all), read over JDBC with the predicate pushed down."""
    from pyspark.sql import functions as F

    relation = entity.table if entity.table else f"({entity.query}) pulled"
    properties = {**source.jdbc.properties, "user": user, "password": password, "driver": driver_of(source),
                  "fetchsize": str(source.jdbc.fetch_size)}
    frame = spark.read.jdbc(source.jdbc.url, relation, properties=properties)
    if entity.watermark and since is not None:
        column = F.col(entity.watermark)
        frame = frame.where(column > F.lit(since).cast(frame.schema[entity.watermark].dataType))
    return frame


def _bronze_frame(frame, source: SourceSpec, entity: EntitySpec, pulled: PulledTable, batch_id: str, now: datetime):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    names = bronze_names(frame.columns, entity.columns)
    order = F.col(entity.watermark) if entity.watermark else F.lit(1)
    out = frame.select(*[F.col(f"`{c}`").cast("string").alias(n) for c, n in zip(frame.columns, names)],
                       F.row_number().over(Window.orderBy(order)).cast("long").alias("_row_number"))
    lineage = {"_source_id": F.lit(source.id), "_source_file": F.lit(pulled.path), "_file_sha256": F.lit(pulled.sha256),
               "_batch_id": F.lit(batch_id), "_extract_date": F.lit(pulled.extract_date).cast("date"),
               "_ingested_at": F.lit(now).cast("timestamp")}
    return out.select(*names, *[lineage[c].alias(c) if c in lineage else F.col(c) for c in LINEAGE_COLUMNS]), names


def merge_into_bronze(spark, data, table: str, keys: list[str], deleted: str | None) -> None:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    is_deleted = F.lower(F.trim(F.col(deleted))).isin(*DELETED_VALUES) if deleted else F.lit(False)
    if not spark.catalog.tableExists(table):
        data.where(~is_deleted).write.format("delta").saveAsTable(table)
        return
    if not keys:
        data.where(~is_deleted).write.format("delta").mode("append").option("mergeSchema", "true").saveAsTable(table)
        return
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    flag = f"lower(trim(s.`{deleted}`)) IN ({', '.join(repr(v) for v in DELETED_VALUES)})" if deleted else "false"
    (DeltaTable.forName(spark, table).alias("t").merge(data.alias("s"), on).withSchemaEvolution()
     .whenMatchedDelete(condition=flag).whenMatchedUpdateAll()
     .whenNotMatchedInsertAll(condition=f"NOT ({flag})").execute())


def pull_entity(spark, source: SourceSpec, entity: EntitySpec, since: str | None, batch_id: str, now: datetime,
                user: str, password: str) -> tuple[PullResult, FileOutcome | None]:
    from pyspark.sql import functions as F

    result = PullResult(source.id, entity.name, watermark_before=since)
    what = entity.table or "query"
    try:
        frame = read_changes(spark, source, entity, since, user, password).cache()
        rows = frame.count()
        high = frame.agg(F.max(entity.watermark).cast("string")).first()[0] if entity.watermark and rows else None
    except Exception as exc:  # connection refused, authentication, missing table: one line naming the source
        raise PullFailed(f"source {source.id}: cannot pull {what} from {source.jdbc.url}: {_one_line(exc)}") from None
    result.rows, result.watermark_after = rows, high or since
    result.path = f"jdbc://{source.id}/{what}@{result.watermark_after or 'all'}"
    pulled = PulledTable(source, entity, result.path, now.date().isoformat(),
                         hashlib.sha256(f"{result.path}|{batch_id}".encode()).hexdigest())
    if rows:
        data, names = _bronze_frame(frame, source, entity, pulled, batch_id, now)
        mapped = dict(zip(frame.columns, names))
        keys = [mapped[k] for k in entity.key]
        deleted = mapped.get(entity.deleted_flag) if entity.deleted_flag else None
        if deleted:
            result.deleted = data.where(F.lower(F.trim(F.col(deleted))).isin(*DELETED_VALUES)).count()
        merge_into_bronze(spark, data, f"bronze.{source.bronze_table(entity.name)}", keys, deleted)
    frame.unpersist()
    outcome = FileOutcome(pulled, "loaded", rows_read=rows, rows_bronze=rows,  # type: ignore[arg-type]
                          warnings=[f"{result.deleted} deletion(s) applied"] if result.deleted else [])
    return result, outcome


def pull_source(spark, source: SourceSpec) -> list[PullResult]:
    """Pull every entity of one jdbc source; ledger rows, then watermarks. Raises PullFailed naming the source."""
    if source.format != "jdbc" or source.jdbc is None:
        raise PullFailed(f"source {source.id}: format is {source.format}, not jdbc")
    user, password = credentials(source)
    ensure_tables(spark)
    ensure_watermark_table(spark)
    started = datetime.now(timezone.utc)
    batch_id = new_batch_id(started)
    known = watermarks(spark, source.id)
    results, outcomes = [], []
    for entity in source.entities.values():
        result, outcome = pull_entity(spark, source, entity, known.get(entity.name), batch_id, started, user, password)
        results.append(result)
        outcomes.append(outcome)
    write_ledger(spark, outcomes, batch_id, started, datetime.now(timezone.utc))
    _write_watermarks(spark, source, results, batch_id, started)
    return results


def _write_watermarks(spark, source: SourceSpec, results: list[PullResult], batch_id: str, now: datetime) -> None:
    from delta.tables import DeltaTable

    rows = [(source.id, r.entity, source.entities[r.entity].watermark, r.watermark_after, r.rows, batch_id, now)
            for r in results]
    frame = spark.createDataFrame(rows, schema=WATERMARK_DDL)
    (DeltaTable.forName(spark, WATERMARK_TABLE).alias("t")
     .merge(frame.alias("s"), "t.source_id = s.source_id AND t.entity = s.entity")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())


def pull_sources(settings, registry, source_ids: list[str] | None = None, spark=None,
                 raise_on_error: bool = True) -> list[PullResult]:
    """Pull the chosen jdbc sources (default: all). A failed source raises PullFailed, or with
    ``raise_on_error=False`` gives a PullResult with its error and the other sources still pull."""
    from carelake.spark import get_spark

    spark = spark or get_spark(settings)
    sources = [s for s in registry.select(source_ids) if s.format == "jdbc"]
    if source_ids and not sources:
        raise PullFailed(f"none of {', '.join(source_ids)} is a jdbc source")
    out: list[PullResult] = []
    for source in sources:
        try:
            out.extend(pull_source(spark, source))
        except PullFailed as exc:
            if raise_on_error:
                raise
            out.append(PullResult(source.id, "*", error=str(exc)))
    return out
