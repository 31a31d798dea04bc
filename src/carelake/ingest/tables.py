"""The ingest's own Delta tables: the per-file ledger and the quarantine of rejected records."""

from __future__ import annotations

LEDGER_TABLE = "bronze.ingest_ledger"
QUARANTINE_TABLE = "bronze.quarantine"

LEDGER_DDL = """
    source_id STRING NOT NULL, entity STRING NOT NULL, bronze_table STRING, file_path STRING,
    file_sha256 STRING NOT NULL, file_size BIGINT, extract_date STRING, batch_id STRING,
    status STRING, rows_read BIGINT, rows_bronze BIGINT, rows_quarantined BIGINT,
    new_columns STRING, warnings STRING, error STRING, started_at TIMESTAMP, finished_at TIMESTAMP
"""

QUARANTINE_DDL = """
    source_id STRING, entity STRING, file_path STRING, file_sha256 STRING, batch_id STRING,
    row_number BIGINT, raw_text STRING, reason STRING, quarantined_at TIMESTAMP
"""

# one row per landed file: its content (source, entity, sha256) and where it landed
LEDGER_KEY = ("source_id", "entity", "file_sha256", "file_path")


def ensure_tables(spark) -> None:
    from carelake.delta_retry import retrying

    for table, ddl in ((LEDGER_TABLE, LEDGER_DDL), (QUARANTINE_TABLE, QUARANTINE_DDL)):
        retrying(lambda table=table, ddl=ddl: spark.sql(f"CREATE TABLE IF NOT EXISTS {table} ({ddl}) USING delta"),
                 f"create {table}")


def ddl_columns(ddl: str) -> list[str]:
    return [part.split()[0] for part in ddl.replace("\n", " ").split(",") if part.strip()]


def sql_in_list(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)
