"""Bronze ingestion: landed files -> one Delta table per source entity, nothing lost.

For each batch:

1. find the landed files of the chosen sources and hash them;
2. skip every file the ledger already has (same source, entity and sha256): reruns change nothing;
3. parse each remaining file with its format's reader; a file that cannot be read as a
   whole is *failed*, and whatever records it holds are quarantined;
4. per bronze table, Delta writes that each replace the rows of exactly their files
   (``replaceWhere _file_sha256 IN (...)``), with schema evolution for new columns: one write
   per slice of the table's files, a slice holding up to ``ingest_slice_rows`` records or
   ``ingest_slice_bytes`` of landed files, so a batch of any size is parsed and written in bounded memory;
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
from itertools import count
from pathlib import Path

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
from carelake.sources.base import string_arrays


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


def _group_arrow(group: list[_Parsed], batch_id: str, ingested_at: datetime):
    """Good records of files read alike as one Arrow table: string columns (null tokens applied) plus lineage.

    A group is either one file a reader handed over as an Arrow table, or a run of row-wise files with the same
    columns (e.g. 100k one-record DICOM headers): those become one table built column by column, never one
    small table per file, which would cost Arrow and Spark overhead per file.
    """
    import numpy as np
    import pyarrow as pa

    first, names = group[0].parsed, group[0].names
    if len(group) == 1:
        arrays = dict(zip(names, first.arrow_columns()))
    else:  # row-wise files with the same columns
        arrays = dict(zip(names, string_arrays([row for p in group for row in p.parsed.rows], len(first.columns))))
    counts = np.array([p.parsed.good_count for p in group], dtype=np.int64)
    file_of_row = pa.array(np.repeat(np.arange(len(group), dtype=np.int32), counts))

    def per_file(column: str, values: list):
        arrow_type = _lineage_type(column)
        if len(set(values)) == 1:
            return _constant(values[0], arrow_type, int(counts.sum()))
        return pa.array(values, type=arrow_type).take(file_of_row)

    files = [p.outcome.file for p in group]
    per_file_values = {
        "_source_id": [f.source.id for f in files],
        "_source_file": [str(f.path) for f in files],
        "_file_sha256": [f.sha256 for f in files],
        "_batch_id": [batch_id],
        "_extract_date": [Date.fromisoformat(f.extract_date) if f.extract_date else None for f in files],
        "_ingested_at": [ingested_at],
    }
    for column in LINEAGE_COLUMNS:
        if column == "_row_number":
            arrays[column] = pa.array([n for p in group for n in p.parsed.row_numbers], type=pa.int64())
        else:
            arrays[column] = per_file(column, per_file_values[column])
    return pa.table(arrays)


def _constant(value, arrow_type, n: int):
    import numpy as np
    import pyarrow as pa

    return pa.array([value], type=arrow_type).take(pa.array(np.zeros(n, dtype=np.int32)))


def _lineage_type(column: str):
    import pyarrow as pa

    return {"_row_number": pa.int64(), "_extract_date": pa.date32(), "_ingested_at": pa.timestamp("us", tz="UTC")}.get(
        column, pa.string()
    )


def _bronze_arrow(parts: list[_Parsed], batch_id: str, ingested_at: datetime):
    """One Arrow table for all loaded files of a slice (columns unioned in first-seen order)."""
    import pyarrow as pa

    loaded = [p for p in parts if p.parsed is not None and p.parsed.good_count]
    if not loaded:  # e.g. header-only files: still replace these files' rows, with the table's lineage types
        return pa.Table.from_pylist([], schema=pa.schema([(c, _lineage_type(c)) for c in LINEAGE_COLUMNS]))
    groups: list[list[_Parsed]] = []
    for p in loaded:
        if groups and p.parsed.table is None and groups[-1][0].parsed.table is None and groups[-1][0].names == p.names:
            groups[-1].append(p)
        else:
            groups.append([p])
    data = pa.concat_tables([_group_arrow(g, batch_id, ingested_at) for g in groups], promote_options="default")
    data_columns = [c for c in data.column_names if c not in LINEAGE_COLUMNS]
    return data.select([*data_columns, *LINEAGE_COLUMNS])


def _release_freed_memory() -> None:
    """Hand memory freed by a written slice back to the OS (Arrow's pool and glibc keep it otherwise, and a
    long batch of many sources would grow as if it still held every slice)."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc:
        try:
            ctypes.CDLL(libc).malloc_trim(0)
        except AttributeError:  # not glibc (e.g. macOS, musl): nothing to trim
            pass


def staging_folder(settings: Settings, batch_id: str) -> Path:
    """Where a batch's slices wait as Parquet for their Delta write (under the lake root: executors read them)."""
    return settings.lake_root / "_staging" / "ingest" / batch_id


@contextmanager
def _removed_after(folder: Path):
    """Remove ``folder`` when the block ends; a killed process leaves it, and the next ingest sweeps it."""
    import shutil

    for stale in folder.parent.glob("*") if folder.parent.exists() else []:
        try:
            if time.time() - stale.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
        except FileNotFoundError:  # another ingest just removed its own
            pass
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Files per Delta write (a bronze slice, a quarantine commit): each write's replaceWhere lists its files' sha256,
# and Delta keeps that predicate in the commit's JSON; ~370k files (a day of three PACS) made a 25 MB string that
# the log reader refuses (Jackson's 20M-character limit), leaving the table unreadable. 10k files: ~0.7 MB.
FILES_PER_WRITE = 10_000
STALE_STAGING_SECONDS = 24 * 3600  # a batch folder this old belongs to no running ingest
ROWS_PER_WRITE_PARTITION = 250_000
BRONZE_WRITERS = 2  # concurrent Delta writes to different bronze tables


def _table_exists(spark, name: str) -> bool:
    return spark.catalog.tableExists(name)


def _slice_frame(spark, data, staged: Path | None):
    """The slice as a Spark DataFrame.

    With a ``staged`` path (under the lake root, which driver and executors share) the Arrow table goes to a
    Parquet file that Spark's tasks read: ``createDataFrame`` would hand every record to the driver JVM's heap
    (one 1M-record slice of HL7 messages or FHIR resources is gigabytes there) and cast a copy in Python first.
    Without one (Spark Connect: the server may not see this machine's files) ``createDataFrame`` is used.
    """
    if staged is None:
        return spark.createDataFrame(data)
    import pyarrow.parquet as pq

    staged.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(data, staged, row_group_size=ROWS_PER_WRITE_PARTITION)
    return spark.read.parquet(str(staged))


def write_bronze(spark, table: str, parts: list[_Parsed], batch_id: str, ingested_at: datetime,
                 staged: Path | None = None) -> list[str]:
    """Replace this batch's files in the bronze table atomically; return the columns that are new to it.

    ``staged``: where to put the slice as Parquet on its way to Spark (see :func:`_slice_frame`); removed after.
    """
    full_name = f"bronze.{table}"
    data = _bronze_arrow(parts, batch_id, ingested_at)
    for p in parts:  # the Arrow table holds the records now: free the Python ones before the write
        p.parsed = None
    exists = _table_exists(spark, full_name)
    if not exists and data.num_rows == 0:
        return []
    existing = set(spark.table(full_name).columns) if exists else set()
    new_columns = [c for c in data.column_names if exists and c not in existing]
    try:
        _write_slice_frame(spark, full_name, _slice_frame(spark, data, staged), data.num_rows, exists, parts)
    finally:
        if staged is not None:
            staged.unlink(missing_ok=True)
    return new_columns


def _write_slice_frame(spark, full_name: str, frame, num_rows: int, exists: bool, parts: list[_Parsed]) -> None:
    # Arrow batches arrive as many small partitions: write a few well-sized files instead
    partitions = max(1, min(spark.sparkContext.defaultParallelism, -(-num_rows // ROWS_PER_WRITE_PARTITION)))
    frame = frame.coalesce(partitions)
    if not exists:
        # create the table with this slice (one commit); never an append: if a concurrent ingest created it first,
        # the create fails and this slice replaces its files' rows in that table like any later slice
        try:
            frame.write.format("delta").mode("errorifexists").saveAsTable(full_name)
            return
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


def _files_condition(files: list[LandedFile]) -> str:
    by_source_entity: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in files:
        by_source_entity[(f.source.id, f.entity.name)].add(f.sha256)
    return " OR ".join(
        f"(source_id = '{s}' AND entity = '{e}' AND file_sha256 IN ({sql_in_list(sorted(shas))}))"
        for (s, e), shas in sorted(by_source_entity.items())
    )


def write_quarantine(spark, parts: list[_Parsed], batch_id: str, now: datetime) -> None:
    """Replace the quarantine rows of the batch's files, ``FILES_PER_WRITE`` files per commit."""
    for start in range(0, len(parts), FILES_PER_WRITE):
        chunk = parts[start:start + FILES_PER_WRITE]
        rows = [
            (p.outcome.file.source.id, p.outcome.file.entity.name, str(p.outcome.file.path), p.outcome.file.sha256,
             batch_id, r.row_number, r.raw_text, r.reason, now)
            for p in chunk
            for r in p.rejected
        ]
        if not rows:
            # readers are deterministic: a file with no rejects now never had any, so nothing to replace
            continue
        frame = spark.createDataFrame(rows, schema=QUARANTINE_DDL.replace("\n", " "))
        condition = _files_condition([p.outcome.file for p in chunk])
        retrying(lambda: frame.write.format("delta").mode("overwrite").option("replaceWhere", condition)
                 .saveAsTable(QUARANTINE_TABLE), f"write {QUARANTINE_TABLE}")


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
    staging = staging_folder(settings, report.batch_id)
    slice_numbers = count(1)

    def write_slice(table: str, parts: list[_Parsed], previous: Future | None) -> None:
        if previous is not None:  # slices of one table commit in order (the first may create the table)
            previous.result()
        staged = None if settings.is_connect else staging / f"{table}-{next(slice_numbers)}.parquet"
        with clock("bronze_write"):
            new_columns = set(write_bronze(spark, table, parts, report.batch_id, started_at, staged))
        failpoint("ingest.after_bronze_commit")  # a slice committed, the batch's other slices and its ledger not
        for p in parts:
            p.outcome.new_columns = [c for c in p.names if c in new_columns]
            p.names = []  # written (its records were released for the write): keep the outcome and the rejects
        _release_freed_memory()

    # Parsing (Python) of the next slice overlaps the Delta writes (JVM) of earlier ones. A slice is the files
    # of one bronze table up to ``settings.ingest_slice_rows`` good records or ``settings.ingest_slice_bytes`` of
    # landed files (parsed records take several times their file's size in Python: a 218 MB HL7 file ~3 GB);
    # each slice replaces exactly its own files' rows, so the batch never holds more than a few slices in
    # memory, whatever its size (a single file is never split: its rows are replaced in one commit), and at most
    # FILES_PER_WRITE files, so that the write's predicate stays small. At most
    # BRONZE_WRITERS writes run at once (slices of different tables in parallel, of one table in order).
    slice_rows, slice_bytes = max(1, settings.ingest_slice_rows), max(1, settings.ingest_slice_bytes)
    with _removed_after(staging), ThreadPoolExecutor(max_workers=BRONZE_WRITERS, thread_name_prefix="bronze-write") as pool:
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
            rows = size = 0
            for f in table_files:
                if progress:
                    progress.update(task, description=f"parse {f.source.id}/{f.path.name}")
                with clock("parse"):
                    parts.append(parse_file(registry, f))
                if progress:
                    progress.advance(task)
                rows += parts[-1].outcome.rows_bronze
                size += f.size
                if rows >= slice_rows or size >= slice_bytes or len(parts) >= FILES_PER_WRITE:
                    all_parts.extend(parts)
                    submit(table, parts)
                    parts, rows, size = [], 0, 0
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
