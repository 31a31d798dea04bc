"""Erasure of one person on request: every row of theirs, in every layer, the archive included.

The person is found through the master patient index (``silver.mpi_person_map``): a ``person_id`` or
one ``source_id:patient_source_id`` gives all the source records linked to that person. Then:

* bronze: each source table by ``(_source_id, patient_source_id)``, the organisation's other systems (its PACS)
  by the same patient number (:func:`with_sibling_systems`); ``bronze.quarantine`` by the
  patient number appearing in the rejected record's raw text of that source;
* silver: the dbt incremental tables (they keep rows) by ``(source_id, patient_source_id)`` and the MPI
  map/merges by ``person_id`` (staging models are views over bronze: nothing stored);
* gold and any other table with a ``person_id`` column (OMOP tables, privacy tables);
* ``quality.failed_rows`` by the person's bronze rows (source file + row number) and patient number;
* the archive copies (``<lake>/_archive/<db>/<table>``) by the same rules.

Each table that held rows is purged of deletion vectors (``REORG ... APPLY (PURGE)``) and vacuumed
with retention 0, so older versions no longer have their files: time travel cannot bring the person back.
The erasure is recorded in ``audit.access_log`` with a keyed reference (HMAC) of the person — never
their identifiers. Pending requests (``<lake>/_governance/erasure_requests/*.yml``) are processed by
:func:`process_erasure_requests` (the lifecycle DAG); each file is removed once done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MPI_MAP = "silver.mpi_person_map"
ERASURE_LAYERS = ("bronze", "silver", "gold", "quality", "governance", "privacy")
ERASURE_THREADS = 4  # tables erased at the same time (concurrent Spark jobs of one session)


class PersonNotFound(LookupError):
    """The request names no person the MPI knows (and no source record to erase)."""


@dataclass
class ErasureReport:
    person_reference: str
    source_records: int
    deleted: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def summary(self) -> str:
        head = (f"{'would erase' if self.dry_run else 'erased'} person ref {self.person_reference[:16]}…: "
                f"{self.source_records} source records, {self.total} rows in {len(self.deleted)} tables")
        return "\n".join([head] + [f"  {t:60} {n:>7}" for t, n in sorted(self.deleted.items())])


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def find_person(spark, person: str) -> tuple[int | None, list[tuple[str, str]]]:
    """(person_id, [(source_id, patient_source_id)]) for ``<person_id>`` or ``<source_id>:<patient_source_id>``."""
    if ":" in person:
        source_id, patient = person.split(":", 1)
        hit = spark.sql(f"SELECT person_id FROM {MPI_MAP} WHERE source_id = {_quote(source_id)} "
                        f"AND patient_source_id = {_quote(patient)}").collect()
        if not hit:
            return None, [(source_id, patient)]
        person_id = hit[0]["person_id"]
    elif person.strip().isdigit():
        person_id = int(person)
    else:
        raise PersonNotFound(f"--person must be a person_id or source_id:patient_source_id, got {person!r}")
    keys = [(r["source_id"], r["patient_source_id"]) for r in
            spark.sql(f"SELECT source_id, patient_source_id FROM {MPI_MAP} WHERE person_id = {person_id}").collect()]
    if not keys:
        raise PersonNotFound(f"person_id {person_id} is not in {MPI_MAP}")
    return person_id, keys


def with_sibling_systems(keys: list[tuple[str, str]], registry) -> list[tuple[str, str]]:
    """The keys plus the same patient numbers in the other systems of the same organisation.

    A hospital's systems (HIS, ADT, PACS) name a patient by the hospital's patient number; only the patient
    register's records are in the MPI, so e.g. a PACS's imaging rows are the person's by organisation and number
    (the rule ``int_imaging_studies`` links them by)."""
    organisation = {s.id: s.organization for s in registry.sources if s.organization}
    found = list(keys)
    for source_id, patient in keys:
        for sibling, code in organisation.items():
            if code == organisation.get(source_id) and (sibling, patient) not in found:
                found.append((sibling, patient))
    return found


def _key_predicate(source_column: str, keys: list[tuple[str, str]], patient_expr: str) -> str:
    by_source: dict[str, list[str]] = {}
    for source_id, patient in keys:
        by_source.setdefault(source_id, []).append(patient)
    parts = [f"({source_column} = {_quote(s)} AND {patient_expr} IN ({', '.join(_quote(p) for p in ps)}))"
             for s, ps in sorted(by_source.items())]
    return "(" + " OR ".join(parts) + ")"


def _text_predicate(source_column: str, text_column: str, keys) -> str:
    parts = [f"({source_column} = {_quote(s)} AND {text_column} RLIKE "
             f"{_quote('(?<![0-9A-Za-z])' + re.escape(p) + '(?![0-9A-Za-z])')})" for s, p in keys]
    return "(" + " OR ".join(parts) + ")"


def person_predicate(columns: set[str], person_id: int | None, keys, row_locators: list[str] | None) -> str | None:
    """The WHERE clause selecting the person's rows in a table with these columns (None: the table has none)."""
    parts = []
    if person_id is not None:
        parts += [f"`{c}` = {person_id}" for c in ("person_id", "old_person_id") if c in columns]
    # bronze raw ids may carry a FHIR reference prefix ("Patient/123", "urn:uuid:..."): compare the last segment
    patient = "regexp_extract(trim(patient_source_id), '([^/:]+)$', 1)"
    for source_column in ("_source_id", "source_id"):
        if source_column in columns and "patient_source_id" in columns:
            parts.append(_key_predicate(source_column, keys, patient))
            break
    if "raw_text" in columns and "source_id" in columns:
        parts.append(_text_predicate("source_id", "raw_text", keys))
    if "masked_values" in columns and "source_id" in columns:
        parts.append(_text_predicate("source_id", "coalesce(record_id, '') || ' ' || coalesce(masked_values, '')", keys))
        if row_locators and {"source_file", "row_number"} <= columns:  # "<file>#<row>" of the person's bronze rows
            parts.append(f"concat(source_file, '#', row_number) IN ({', '.join(_quote(x) for x in row_locators)})")
    return " OR ".join(parts) if parts else None


def _delete_purge_vacuum(spark, table_ref: str, predicate: str) -> None:
    """Delete the rows, rewrite files that only hide them behind deletion vectors, and remove every file no
    longer in the latest version (LITE: the files the log says were removed, without listing the folder)."""
    spark.sql(f"DELETE FROM {table_ref} WHERE {predicate}")
    properties = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {table_ref}").collect()}
    if properties.get("delta.enableDeletionVectors", "false").lower() == "true":
        spark.sql(f"REORG TABLE {table_ref} APPLY (PURGE)")
    try:
        spark.sql(f"VACUUM {table_ref} LITE RETAIN 0 HOURS")
    except Exception as exc:  # noqa: BLE001 - LITE refuses when the log no longer holds every removed file
        if "LITE" not in str(exc).upper():
            raise
        spark.sql(f"VACUUM {table_ref} RETAIN 0 HOURS")


def _erase_rows(spark, predicates: dict[str, str]) -> None:
    """:func:`_delete_purge_vacuum` on every table, a few at a time: each is its own Delta transaction on its own
    table, and most of the time is per-statement latency, not work, so concurrent jobs shorten the erasure."""
    from concurrent.futures import ThreadPoolExecutor

    key = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(key, "true")
    spark.conf.set(key, "false")  # RETAIN 0 HOURS: time travel must not bring the person back
    try:
        with ThreadPoolExecutor(max_workers=ERASURE_THREADS) as pool:
            for done in [pool.submit(_delete_purge_vacuum, spark, t, p) for t, p in predicates.items()]:
                done.result()
    finally:
        spark.conf.set(key, previous)


def _erasure_targets(spark, settings) -> list[str]:
    from carelake.lifecycle.retention import archived_tables, delta_tables

    paths = sorted(f"delta.`{path}`" for path in archived_tables(settings).values())
    return delta_tables(spark, list(ERASURE_LAYERS)) + paths


def erase_person(spark, settings, person: str, reason: str, requested_by: str = "governance_officer",
                 dry_run: bool = False) -> ErasureReport:
    """Delete every row of one person from every layer and the archive, vacuum, and audit it (keyed reference)."""
    from carelake.access.audit import keyed_reference, record_access

    if not reason.strip():
        raise ValueError("an erasure needs a reason")
    from carelake.registry import load_registry

    person_id, records = find_person(spark, person)
    keys = with_sibling_systems(records, load_registry(settings))
    reference = keyed_reference(settings, f"person:{person_id}" if person_id is not None else f"record:{person}")
    report = ErasureReport(reference, len(records), dry_run=dry_run)
    # the person's bronze rows (file + row number) locate their failed-rule samples in quality.failed_rows
    targets = _erasure_targets(spark, settings)
    bronze_rows = []
    columns = {table: {c.lower() for c in spark.sql(f"SELECT * FROM {table} LIMIT 0").columns} for table in targets}
    for table in targets:
        predicate = person_predicate(columns[table], person_id, keys, None)
        if table.startswith("bronze.") and predicate and {"_source_file", "_row_number"} <= columns[table]:
            bronze_rows.append(f"SELECT _source_file, _row_number FROM {table} WHERE {predicate}")
    locators = sorted({f"{r[0]}#{r[1]}" for r in spark.sql(" UNION ALL ".join(bronze_rows)).collect()}) \
        if bronze_rows else []
    predicates = {t: p for t in targets if (p := person_predicate(columns[t], person_id, keys, locators))}
    # one query counts the person's rows in every table
    counts = spark.sql(" UNION ALL ".join(f"SELECT {_quote(t)} AS t, count(*) AS n FROM {t} WHERE {p}"
                                          for t, p in predicates.items())).collect() if predicates else []
    report.deleted = {r["t"]: r["n"] for r in counts if r["n"]}
    if not dry_run:
        _erase_rows(spark, {table: predicates[table] for table in report.deleted})
        record_access(spark, settings, user=requested_by, role="governance_officer", action="erase",
                      tables=list(report.deleted), rows=report.total, purpose=reason,
                      details={"person_reference": reference, "source_records": len(records)})
    return report


def requests_dir(settings) -> Path:
    return Path(settings.lake_root) / "_governance" / "erasure_requests"


def process_erasure_requests(spark, settings) -> list[ErasureReport]:
    """Erase the person of every pending request file (``person:``, ``reason:``, ``requested_by:``), then remove it."""
    import yaml

    reports = []
    for path in sorted(requests_dir(settings).glob("*.yml")):
        request = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not request.get("person") or not request.get("reason"):
            raise ValueError(f"{path}: an erasure request needs `person` and `reason`")
        reports.append(erase_person(spark, settings, str(request["person"]), request["reason"],
                                    requested_by=request.get("requested_by", "erasure-request")))
        path.unlink()
    return reports
