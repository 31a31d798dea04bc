"""The MPI's input built straight from bronze (fallback for ``silver.int_patients__unioned``, and for tests).

One row per (source_id, patient_source_id), in the contract's columns (see
``carelake.mpi.normalise`` for the rules):

* CSV / FHIR patient tables: the latest row per patient (``updated_at``, then
  extract date and row number: re-sent and duplicated rows collapse).
* HL7 ADT feeds (``<source>__messages``): every message carries the patient's
  PID segment; each field is taken from the latest message where it is not
  empty (a message whose PID lost a field does not blank it). The address is
  PID-11.1 and the region code PID-11.9, read from ``segments_json``
  (the ``address`` column joins PID-11.1..6 and so carries the country).
"""

from __future__ import annotations

from carelake.mpi import normalise as n

DEFAULT_SOURCES = ("h01_riverside", "h02_dongcheng", "h03_xishan_chc", "h04_nanhu_adt")
_FIELDS = ("id_number", "name", "sex", "birth_date", "phone", "address", "region_code")
_SEGMENTS_SCHEMA = "array<struct<id:string,fields:array<array<array<array<string>>>>>>"


def _table_for(spark, source_id: str) -> tuple[str, str]:
    for suffix, kind in (("patients", "table"), ("messages", "hl7")):
        name = f"bronze.{source_id}__{suffix}"
        if spark.catalog.tableExists(name):
            return name, kind
    raise ValueError(f"no bronze patients or messages table for source {source_id!r}")


def _table_sql(source_id: str, table: str) -> str:
    cols = {"source_id": f"'{source_id}'", "patient_source_id": "patient_source_id", "updated_at": "updated_at",
            **{f: f for f in _FIELDS}}
    select = ",\n  ".join(n.normalised_select(cols))
    return f"""
select source_id, patient_source_id, {", ".join(_FIELDS)}, updated_at from (
  select *, row_number() over (partition by patient_source_id
                               order by updated_at desc nulls last, _extract_date desc, _row_number desc) as _rn
  from (select {select}, _extract_date, _row_number from {table} where patient_source_id is not null)
) where _rn = 1"""


def _hl7_sql(source_id: str, table: str) -> str:
    pid11 = (f"filter(from_json(segments_json, '{_SEGMENTS_SCHEMA}'), s -> s.id = 'PID')[0].fields[10][0]")
    cols = {"source_id": f"'{source_id}'", "patient_source_id": "patient_source_id",
            "updated_at": "message_datetime", "id_number": "id_number", "name": "name", "sex": "sex",
            "birth_date": "birth_date", "phone": "phone", "address": f"{pid11}[0][0]",
            "region_code": f"{pid11}[8][0]"}
    select = ",\n  ".join(n.normalised_select(cols))
    # one ordering key per message: time sent, then file date, then position in the file
    latest = ",\n  ".join(f"max_by({f}, case when {f} is not null then _ord end) as {f}" for f in _FIELDS)
    return f"""
select source_id, patient_source_id, {latest}, max(updated_at) as updated_at from (
  select *, named_struct('t', updated_at, 'd', _extract_date, 'r', _row_number) as _ord
  from (select {select}, _extract_date, _row_number from {table}
        where patient_source_id is not null and segments_json is not null)
) group by source_id, patient_source_id"""


def patients_from_bronze(spark, source_ids=DEFAULT_SOURCES):
    """A DataFrame in the MPI input contract, unioned over the given sources' bronze tables."""
    parts = []
    for source_id in source_ids:
        table, kind = _table_for(spark, source_id)
        parts.append(_hl7_sql(source_id, table) if kind == "hl7" else _table_sql(source_id, table))
    return spark.sql("\nunion all\n".join(f"({p})" for p in parts))
