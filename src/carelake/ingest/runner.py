"""Bronze ingestion: landed files -> one Delta table per source entity, nothing lost.

For each batch:

1. find the landed files of the chosen sources and hash them;
2. skip every file the ledger already has (same source, entity and sha256): reruns change nothing;
3. parse each remaining file with its format's reader; a file that cannot be read as a
   whole is *failed*, and whatever records it holds are quarantined;
4. per bronze table, Delta writes that each replace the rows of exactly their files
   (``replaceWhere _file_sha256 IN (...)``), with schema evolution for new columns: one write
   per slice of the table's files, a slice holding up to ``ingest_slice_rows`` records, so a
   batch of any size is parsed and written in bounded memory;
5. one quarantine write (same replace semantics), then one MERGE into the ledger.

The ledger is written last, so a crash anywhere before it leaves files "not yet loaded":
the rerun replaces their rows instead of duplicating them (docs/crash-safety.md; kill points
``ingest.after_bronze_commit``, ``ingest.before_quarantine``, ``ingest.before_ledger`` in
:mod:`carelake.failpoints`). A new bronze table is created by its first slice with a create that
fails if the table exists (never an append): when two ingests both find it missing, the loser's
slice falls back to the ``replaceWhere`` write, so no rows are doubled. Every Delta write here goes through :func:`carelake.delta_retry.retrying`:
a concurrent ingest's conflicting commit is retried, and since each write replaces exactly its own
files' rows (or MERGEs the ledger by key), two overlapping ingests end as one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timezone

from carelake.config import Settings, load_settings
from carelake.delta_retry import is_retryable, retrying
from carelake.failpoints import failpoint
from carelake.ingest.columns import LINEAGE_COLUMNS, bronze_names
from carelake.ingest.landed import LandedFile, discover
from carelake.ingest.tables import (
    LEDGER_DDL,
    LEDGER_KEY,
    LEDGER_TABLE,
    QUARANTINE_DDL,
    QUARANTINE_TABLE,
    ddl_columns,
    ensure_tables,
    sql_in_list,
)
from carelake.operations.runs import StepOutcome, recorded
from carelake.registry import Registry, load_registry
from carelake.sources import ParsedFile, Rejected, UnreadableFile, get_reader


@dataclass
class FileOutcome:
    file: LandedFile
    status: str  # loaded | failed | duplicate (same content as a file already loaded: recorded, not reloaded)
    rows_read: int = 0
    rows_bronze: int = 0
    rows_quarantined: int = 0
    new_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_bronze + self.rows_quarantined

    def describe(self) -> str:
        return f"{self.file.path}: {self.error}" if self.error else str(self.file.path)


@dataclass
class IngestReport:
    batch_id: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    skipped: list[LandedFile] = field(default_factory=list)  # this very file is already in the ledger
    duplicates: list[LandedFile] = field(default_factory=list)  # new file, same content as a loaded one (ledger: duplicate)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # time per phase
    pulls: list = field(default_factory=list)  # jdbc sources: one carelake.ingest.jdbc.PullResult per entity (or error)

    @property
    def balanced(self) -> bool:
        return all(o.balanced for o in self.outcomes)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def drift(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for o in self.outcomes:
            for col in o.new_columns:
                if col not in found[o.file.table]:
                    found[o.file.table].append(col)
        return dict(found)

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.outcomes),
            "skipped": len(self.skipped),
            "duplicates": len(self.duplicates),
            "failed": len(self.failed),
            "rows_read": sum(o.rows_read for o in self.outcomes),
            "rows_bronze": sum(o.rows_bronze for o in self.outcomes),
            "rows_quarantined": sum(o.rows_quarantined for o in self.outcomes),
        }


@dataclass
class _Parsed:
    """One file after its reader ran: what goes to bronze and what to quarantine."""

    outcome: FileOutcome
    names: list[str] = field(default_factory=list)
    parsed: ParsedFile | None = None
    rejected: list[Rejected] = field(default_factory=list)


class _PhaseClock:
    """Adds the wall time of each ``with clock("phase"):`` block to a dict (thread-safe; phases may overlap)."""

    def __init__(self, seconds: dict[str, float]):
        self.seconds = seconds
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[phase] += time.perf_counter() - start


def new_batch_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _raw_record(values: tuple, columns: list[str], delimiter: str) -> str:
    for raw_column in ("resource_json", "raw_message"):
        if raw_column in columns:
            return values[columns.index(raw_column)] or ""
    return delimiter.join("" if v is None else v for v in values)


def parse_file(registry: Registry, landed: LandedFile) -> _Parsed:
    """Run the file's reader and apply the registry's column mapping and required-column check."""
    source, entity = landed.source, landed.entity
    outcome = FileOutcome(landed, status="loaded")
    result = _Parsed(outcome)
    try:
        parsed = get_reader(source.format)(landed.path, source, entity)
    except UnreadableFile as exc:
        outcome.status, outcome.error = "failed", exc.reason
        result.rejected = list(exc.records)
    except Exception as exc:  # a reader bug must not lose the batch: fail this file, loudly
        outcome.status, outcome.error = "failed", f"reader error {type(exc).__name__}: {exc}"
    else:
        names = bronze_names(parsed.columns, entity.columns)
        missing = [c for c in registry.required_columns(entity) if c not in names]
        outcome.warnings = list(parsed.warnings)
        if missing:
            mapped_from = {v: k for k, v in entity.columns.items()}
            detail = ", ".join(f"{c} (mapped from {mapped_from[c]!r})" if c in mapped_from else c for c in missing)
            outcome.status, outcome.error = "failed", f"missing required column(s): {detail}"
            result.rejected = [
                Rejected(n, _raw_record(v, parsed.columns, source.csv.delimiter), f"file lacks required column(s) {', '.join(missing)}")
                for n, v in zip(parsed.row_numbers, parsed.good_rows())
            ] + parsed.rejected
        else:
            result.names, result.parsed = names, parsed
            result.rejected = list(parsed.rejected)
            outcome.rows_bronze = parsed.good_count
    outcome.rows_quarantined = len(result.rejected)
    outcome.rows_read = outcome.rows_bronze + outcome.rows_quarantined
    return result


def _constant(value, arrow_type, n: int):
    import numpy as np
    import pyarrow as pa

    return pa.array([value], type=arrow_type).take(pa.array(np.zeros(n, dtype=np.int32)))


def _file_arrow(part: _Parsed, batch_id: str, ingested_at: datetime):
    """One file's good records as an Arrow table: string columns, null tokens already applied, plus lineage."""
    import pyarrow as pa

    landed, parsed = part.outcome.file, part.parsed
    n = parsed.good_count
    arrays = dict(zip(part.names, parsed.arrow_columns()))
    extract_date = Date.fromisoformat(landed.extract_date) if landed.extract_date else None
    constants = {"_source_id": landed.source.id, "_source_file": str(landed.path), "_file_sha256": landed.sha256,
                 "_batch_id": batch_id, "_extract_date": extract_date, "_ingested_at": ingested_at}
    for column in LINEAGE_COLUMNS:
        arrays[column] = (pa.array(parsed.row_numbers, type=_lineage_type(column)) if column == "_row_number"
                          else _constant(constants[column], _lineage_type(column), n))
    return pa.table(arrays)


def _lineage_type(column: str):
    import pyarrow as pa

    return {"_row_number": pa.int64(), "_extract_date": pa.date32(), "_ingested_at": pa.timestamp("us", tz="UTC")}.get(
        column, pa.string()
    )


def _bronze_arrow(parts: list[_Parsed], batch_id: str, ingested_at: datetime):
    """One Arrow table for all loaded files of a bronze table (columns unioned in first-seen order)."""
    import pyarrow as pa

    tables = [_file_arrow(p, batch_id, ingested_at) for p in parts if p.parsed is not None and p.parsed.good_count]
    if not tables:  # e.g. header-only files: still replace these files' rows, with the table's lineage types
        return pa.Table.from_pylist([], schema=pa.schema([(c, _lineage_type(c)) for c in LINEAGE_COLUMNS]))
    data = pa.concat_tables(tables, promote_options="default")
    data_columns = [c for c in data.column_names if c not in LINEAGE_COLUMNS]
    return data.select([*data_columns, *LINEAGE_COLUMNS])


ROWS_PER_WRITE_PARTITION = 250_000
BRONZE_WRITERS = 2  # concurrent Delta writes to different bronze tables


def _table_exists(spark, name: str) -> bool:
    return spark.catalog.tableExists(name)


def write_bronze(spark, table: str, parts: list[_Parsed], batch_id: str, ingested_at: datetime) -> list[str]:
    """Replace this batch's files in the bronze table atomically; return the columns that are new to it."""
    full_name = f"bronze.{table}"
    data = _bronze_arrow(parts, batch_id, ingested_at)
    exists = _table_exists(spark, full_name)
    if not exists and data.num_rows == 0:
        return []
    existing = set(spark.table(full_name).columns) if exists else set()
    new_columns = [c for c in data.column_names if exists and c not in existing]
    frame = spark.createDataFrame(data)
    # Arrow batches arrive as many small partitions: write a few well-sized files instead
    partitions = max(1, min(spark.sparkContext.defaultParallelism, -(-data.num_rows // ROWS_PER_WRITE_PARTITION)))
    frame = frame.coalesce(partitions)
    if not exists:
        # create the table with this slice (one commit); never an append: if a concurrent ingest created it first,
        # the create fails and this slice replaces its files' rows in that table like any later slice
        try:
            frame.write.format("delta").mode("errorifexists").saveAsTable(full_name)
            return new_columns
        except Exception as exc:
            if not is_retryable(exc):
                raise
    shas = sql_in_list(sorted({p.outcome.file.sha256 for p in parts}))
    retrying(
        lambda: frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"_file_sha256 IN ({shas})")
        .option("mergeSchema", "true")
        .saveAsTable(full_name),
        f"write {full_name}",
    )
    return new_columns


def _files_condition(files: list[LandedFile]) -> str:
    by_source_entity: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in files:
        by_source_entity[(f.source.id, f.entity.name)].add(f.sha256)
    return " OR ".join(
        f"(source_id = '{s}' AND entity = '{e}' AND file_sha256 IN ({sql_in_list(sorted(shas))}))"
        for (s, e), shas in sorted(by_source_entity.items())
    )


def write_quarantine(spark, parts: list[_Parsed], batch_id: str, now: datetime) -> None:
    rows = [
        (p.outcome.file.source.id, p.outcome.file.entity.name, str(p.outcome.file.path), p.outcome.file.sha256, batch_id,
         r.row_number, r.raw_text, r.reason, now)
        for p in parts
        for r in p.rejected
    ]
    if not rows:
        # readers are deterministic: a file with no rejects now never had any, so nothing to replace
        return
    frame = spark.createDataFrame(rows, schema=QUARANTINE_DDL.replace("\n", " "))
    condition = _files_condition([p.outcome.file for p in parts])
    retrying(lambda: frame.write.format("delta").mode("overwrite").option("replaceWhere", condition).saveAsTable(QUARANTINE_TABLE),
             f"write {QUARANTINE_TABLE}")


def write_ledger(spark, outcomes: list[FileOutcome], batch_id: str, started_at: datetime, finished_at: datetime) -> None:
    from delta.tables import DeltaTable

    if not outcomes:
        return
    rows = [
        (o.file.source.id, o.file.entity.name, f"bronze.{o.file.table}", str(o.file.path), o.file.sha256, o.file.size,
         o.file.extract_date, batch_id, o.status, o.rows_read, o.rows_bronze, o.rows_quarantined,
         ",".join(o.new_columns) or None, " | ".join(o.warnings) or None, o.error, started_at, finished_at)
        for o in outcomes
    ]
    frame = spark.createDataFrame(rows, schema=LEDGER_DDL.replace("\n", " ").replace(" NOT NULL", ""))
    on = " AND ".join(f"t.{k} = s.{k}" for k in LEDGER_KEY)
    retrying(lambda: DeltaTable.forName(spark, LEDGER_TABLE).alias("t").merge(frame.alias("s"), on)
             .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(), f"merge {LEDGER_TABLE}")


def known_files(spark) -> dict[tuple[str, str, str, str], str]:
    """(source_id, entity, file_sha256, file_path) -> status of every file the ledger has."""
    return {tuple(r[:4]): r[4] for r in spark.table(LEDGER_TABLE).select(*LEDGER_KEY, "status").collect()}


@recorded("ingest", outcome=lambda report: StepOutcome(rows=report.totals()["rows_read"],
                                                       error=None if report.balanced else "ledger does not balance"),
          source=lambda call: ",".join(call["source_ids"]) if call["source_ids"] else None)
def ingest(
    settings: Settings | None = None,
    registry: Registry | None = None,
    source_ids: list[str] | None = None,
    date: str | None = None,
    retry_failed: bool = False,
    spark=None,
    progress=None,
) -> IngestReport:
    """Load every new landed file of the chosen sources (all by default) into bronze.

    ``date`` (YYYY-MM-DD) restricts to the files of one extract date (one data interval).
    ``progress`` is an optional ``rich.progress.Progress`` to report on.
    """
    from carelake.spark import get_spark

    settings = settings or load_settings()
    registry = registry or load_registry(settings)
    sources = registry.select(source_ids)
    started_at = datetime.now(timezone.utc)
    report = IngestReport(batch_id=new_batch_id(started_at))
    clock = _PhaseClock(report.seconds)
    with clock("discover"):
        files = discover(registry, sources, date)
    with clock("spark_session"):
        spark = spark or get_spark(settings)
    with clock("ledger_read"):
        ensure_tables(spark)
        known = known_files(spark)

    # A file is known by its content (source, entity, sha256); a *new* file with known content (e.g. an
    # unchanged daily master-data snapshot) is not loaded again but recorded as a duplicate arrival, so the
    # ledger still shows that the day's file came.
    todo: list[LandedFile] = []
    loaded_content: dict[tuple[str, str, str], str] = {}
    for (source_id, entity, sha, path), status in known.items():
        if status != "duplicate":
            loaded_content[(source_id, entity, sha)] = status
    for f in files:
        status = known.get((*f.key, str(f.path)))
        if status is not None and not (retry_failed and status == "failed"):
            report.skipped.append(f)
        elif f.key in loaded_content and status is None:
            report.duplicates.append(f)
        else:
            loaded_content[f.key] = "loaded"
            todo.append(f)

    by_table: dict[str, list[LandedFile]] = defaultdict(list)
    for f in todo:
        by_table[f.table].append(f)
    task = progress.add_task("ingest", total=len(todo)) if progress else None
    all_parts: list[_Parsed] = []

    def write_slice(table: str, parts: list[_Parsed], previous: Future | None) -> None:
        if previous is not None:  # slices of one table commit in order (the first may create the table)
            previous.result()
        with clock("bronze_write"):
            new_columns = set(write_bronze(spark, table, parts, report.batch_id, started_at))
        failpoint("ingest.after_bronze_commit")  # a slice committed, the batch's other slices and its ledger not
        for p in parts:
            p.outcome.new_columns = [c for c in p.names if c in new_columns]
            p.parsed = None  # written: release the records, keep the outcome and the rejects

    # Parsing (Python) of the next slice overlaps the Delta writes (JVM) of earlier ones. A slice is the files
    # of one bronze table up to ``settings.ingest_slice_rows`` good records; each slice replaces exactly its own
    # files' rows, so the batch never holds more than a few slices in memory, whatever its size. At most
    # BRONZE_WRITERS writes run at once (slices of different tables in parallel, of one table in order).
    slice_rows = max(1, settings.ingest_slice_rows)
    with ThreadPoolExecutor(max_workers=BRONZE_WRITERS, thread_name_prefix="bronze-write") as pool:
        in_flight: set[Future] = set()
        last_write: dict[str, Future] = {}

        def submit(table: str, parts: list[_Parsed]) -> None:
            nonlocal in_flight
            if len(in_flight) >= BRONZE_WRITERS:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # a failed write fails the batch before the ledger is written
            last_write[table] = pool.submit(write_slice, table, parts, last_write.get(table))
            in_flight.add(last_write[table])

        for table, table_files in by_table.items():
            parts: list[_Parsed] = []
            rows = 0
            for f in table_files:
                if progress:
                    progress.update(task, description=f"parse {f.source.id}/{f.path.name}")
                with clock("parse"):
                    parts.append(parse_file(registry, f))
                if progress:
                    progress.advance(task)
                rows += parts[-1].outcome.rows_bronze
                if rows >= slice_rows:
                    all_parts.extend(parts)
                    submit(table, parts)
                    parts, rows = [], 0
            if parts or table not in last_write:
                all_parts.extend(parts)
                submit(table, parts)
        for future in in_flight:
            future.result()

    if progress and todo:
        progress.update(task, description="write quarantine and ledger")
    failpoint("ingest.before_quarantine")
    with clock("quarantine_write"):
        write_quarantine(spark, all_parts, report.batch_id, started_at)
    report.outcomes = [p.outcome for p in all_parts] + [FileOutcome(f, "duplicate") for f in report.duplicates]
    failpoint("ingest.before_ledger")  # every bronze and quarantine row written, the ledger not
    with clock("ledger_write"):
        write_ledger(spark, report.outcomes, report.batch_id, started_at, datetime.now(timezone.utc))
    jdbc_sources = [s.id for s in sources if s.format == "jdbc"]
    if jdbc_sources:  # database sources are pulled (watermark, merge by key), never discovered as files
        from carelake.ingest.jdbc import pull_sources

        with clock("jdbc_pull"):
            report.pulls = pull_sources(settings, registry, jdbc_sources, spark=spark, raise_on_error=False)
    if progress:
        progress.update(task, description="ingest done")
    return report


LEDGER_COLUMNS = ddl_columns(LEDGER_DDL)
