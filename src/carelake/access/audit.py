"""The access audit: an append-only, hash-chained Delta table ``audit.access_log``.

Every read through carelake (``carelake query``, :func:`carelake.access.read_table`, DAG reads of
gold via :func:`record_access`) and every erasure appends one record: who, role, tables, columns,
rows returned, when, purpose, the query text. Each record carries a sequence number and
``record_hash = SHA-256(canonical content + previous record's hash)``, so editing, deleting or
reordering any record breaks the chain from that record on; :func:`verify_chain`
(``carelake audit verify``) recomputes it and names the first broken record.

Appends are serialised by an exclusive lock file next to the lake (``<lake>/_audit/access_log.lock``):
the head (last sequence number and hash) is read and the new record written while the lock is held,
so two processes appending at once never fork the chain. (On object storage shared by several
machines, replace the lock by a conditional write; Delta's blind appends do not conflict by themselves.)
The table also carries ``delta.appendOnly = true``: Delta refuses UPDATE and DELETE on it, and
:func:`verify_chain` flags any commit in the table's history that is not an append.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

AUDIT_TABLE = "audit.access_log"
GENESIS_HASH = "0" * 64
# the columns that enter a record's hash, in this order (record_hash itself excluded)
CHAINED_FIELDS = ("seq", "accessed_at", "user_name", "role", "action", "purpose", "tables", "columns",
                  "rows_returned", "query_text", "details", "prev_hash")
SCHEMA_DDL = (
    "seq bigint, accessed_at timestamp_ntz, user_name string, role string, action string, purpose string, "
    "tables array<string>, columns array<string>, rows_returned bigint, query_text string, details string, "
    "prev_hash string, record_hash string"
)
# commits that only add records (or compact / clean files without changing content); anything else is flagged
_APPEND_OPERATIONS = {"CREATE TABLE", "CREATE TABLE AS SELECT", "WRITE", "STREAMING UPDATE", "VACUUM START",
                      "VACUUM END", "OPTIMIZE"}


@dataclass
class AccessRecord:
    """One audit record before it is chained (``seq``, ``prev_hash`` and ``record_hash`` are set on append)."""

    user_name: str
    role: str
    action: str
    purpose: str
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows_returned: int | None = None
    query_text: str | None = None
    details: str | None = None
    accessed_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))


def canonical_content(record: dict) -> str:
    """The exact text a record's hash covers: its chained fields as sorted-key JSON (UTC times, microseconds)."""
    content = {}
    for name in CHAINED_FIELDS:
        value = record.get(name)
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%S.%f")
        elif isinstance(value, tuple):
            value = list(value)
        content[name] = value
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def record_hash(record: dict) -> str:
    """SHA-256 over the record's canonical content followed by the previous record's hash."""
    text = canonical_content(record) + (record.get("prev_hash") or "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain(records: Iterable[AccessRecord], head_seq: int, head_hash: str) -> list[dict]:
    """Chain new records after the head (last seq and hash); returns rows ready to append."""
    rows = []
    seq, prev = head_seq, head_hash
    for rec in records:
        seq += 1
        row = {name: getattr(rec, name) for name in ("user_name", "role", "action", "purpose", "rows_returned",
                                                      "query_text", "details", "accessed_at")}
        row.update(seq=seq, tables=list(rec.tables), columns=list(rec.columns), prev_hash=prev)
        row["record_hash"] = prev = record_hash(row)
        rows.append(row)
    return rows


@dataclass
class ChainReport:
    records: int
    ok: bool
    first_broken_seq: int | None = None
    reason: str = ""
    history_problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.records} records"
        lines = [f"audit chain BROKEN at record seq={self.first_broken_seq}: {self.reason}"] if self.reason else []
        lines += [f"table history: {p}" for p in self.history_problems]
        return "\n".join(lines)


def check_chain(rows: Sequence[dict]) -> ChainReport:
    """Recompute the chain over rows in stored order (sorted by seq); report the first broken record.

    Detected: an edited record (its hash no longer matches its content), a deleted record (a gap in
    ``seq`` / the next record's ``prev_hash`` no longer matches), reordered or duplicated records.
    """
    prev_hash, expected_seq = GENESIS_HASH, 1
    for row in sorted(rows, key=lambda r: (r["seq"], r["record_hash"] or "")):
        seq = row["seq"]
        if seq != expected_seq:
            what = "missing (deleted)" if seq > expected_seq else "duplicated (forked chain)"
            return ChainReport(len(rows), False, expected_seq if seq > expected_seq else seq,
                               f"record seq={expected_seq if seq > expected_seq else seq} is {what}")
        if row["prev_hash"] != prev_hash:
            return ChainReport(len(rows), False, seq, "prev_hash does not match the previous record (deleted or reordered)")
        if record_hash(row) != row["record_hash"]:
            return ChainReport(len(rows), False, seq, "content does not match its hash (edited)")
        prev_hash, expected_seq = row["record_hash"], seq + 1
    return ChainReport(len(rows), True)


# --- Delta side -------------------------------------------------------------------------------------------------

def ensure_audit_table(spark) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS audit")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} ({SCHEMA_DDL}) USING delta "
              "TBLPROPERTIES ('delta.appendOnly' = 'true')")


@contextmanager
def _append_lock(settings):
    import fcntl

    folder = Path(settings.lake_root) / "_audit"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "access_log.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_records(spark, settings, records: Sequence[AccessRecord]) -> list[dict]:
    """Append records to the chain (under the lock); returns the rows written with their seq and hash."""
    from pyspark.sql.types import StructType

    ensure_audit_table(spark)
    with _append_lock(settings):
        head = spark.sql(f"SELECT seq, record_hash FROM {AUDIT_TABLE} ORDER BY seq DESC LIMIT 1").collect()
        head_seq, head_hash = (head[0]["seq"], head[0]["record_hash"]) if head else (0, GENESIS_HASH)
        rows = chain(records, head_seq, head_hash)
        schema = StructType.fromDDL(SCHEMA_DDL)
        spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema) \
            .write.format("delta").mode("append").saveAsTable(AUDIT_TABLE)
    return rows


def record_access(spark, settings, user: str, role: str, tables: Iterable[str], columns: Iterable[str] = (),
                  rows: int | None = None, purpose: str = "", query_text: str | None = None,
                  action: str = "read", details: dict | None = None) -> dict:
    """Append one access record (e.g. a DAG task that read gold); returns the chained row."""
    record = AccessRecord(user_name=user, role=role, action=action, purpose=purpose, tables=sorted(set(tables)),
                          columns=list(columns), rows_returned=rows, query_text=query_text,
                          details=json.dumps(details, sort_keys=True, ensure_ascii=False) if details else None)
    return append_records(spark, settings, [record])[0]


def _history_problems(spark, table: str) -> list[str]:
    history = spark.sql(f"DESCRIBE HISTORY {table}").select("version", "operation").collect()
    return [f"version {h['version']}: {h['operation']} (the log is append-only)"
            for h in sorted(history, key=lambda h: h["version"]) if h["operation"] not in _APPEND_OPERATIONS]


def verify_chain(spark, table: str = AUDIT_TABLE) -> ChainReport:
    """Recompute the whole chain of ``audit.access_log`` and check the table's history holds only appends."""
    if table == AUDIT_TABLE:
        ensure_audit_table(spark)
    rows = [r.asDict() for r in spark.table(table).collect()]
    report = check_chain(rows)
    report.history_problems = _history_problems(spark, table)
    if report.history_problems:
        report.ok = False
    return report


# --- keyed references (never an identifier in the log) -----------------------------------------------------------

def audit_key(settings) -> bytes:
    """Key for keyed references: ``CARELAKE_AUDIT_KEY``, else a random per-lake key in ``<lake>/_audit/.reference_key``."""
    env = os.environ.get("CARELAKE_AUDIT_KEY")
    if env:
        return env.encode("utf-8")
    path = Path(settings.lake_root) / "_audit" / ".reference_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


def keyed_reference(settings, value: str) -> str:
    """HMAC-SHA256 of a value under the audit key: lets an auditor confirm "this request was done" without the id."""
    return hmac.new(audit_key(settings), value.encode("utf-8"), hashlib.sha256).hexdigest()
