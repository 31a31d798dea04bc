"""Link patient records into persons: deterministic ID rule, then Splink on Spark, then stable person ids.

Steps (all in Spark; nothing is collected to the driver):

1. **Input**: the MPI input contract (``silver.int_patients__unioned`` or a
   DataFrame), one row per (source_id, patient_source_id) — repeats keep the
   latest ``updated_at``. Record key = ``source_id|patient_source_id``.
2. **Deterministic**: records with the same *valid* 18-character resident ID
   number (ISO 7064 MOD 11-2 check character) are the same person (edges of
   probability 1.0 to the group's smallest record key).
3. **Probabilistic**: Splink (``metadata/mpi/model.json``, trained by
   ``carelake.mpi.train``; no training at run time) scores the pairs its
   blocking rules generate; pairs with ``match_probability >= threshold``
   (default ``DEFAULT_THRESHOLD`` = 0.99) are edges.
4. **Clustering**: connected components over both edge sets (Splink's
   ``cluster_pairwise_predictions_at_threshold``).
5. **Stable person ids** against the existing map table:

   * a cluster's candidate ids are the ``person_id``s its records already have;
     when one old id is found in several clusters (a split) the cluster
     holding most of its records keeps it (ties: smallest cluster key);
   * a cluster takes the smallest id it kept; the other ids it kept are
     *merged* into it, each merge recorded in ``<output>_merges``
     (old_person_id, person_id, merged_at); a merged id is never reused;
   * a cluster with no id gets ``max(every id ever issued) + n`` (numbered in
     order of its smallest record key);
   * mapped records missing from this run's input keep their rows (moved to
     the surviving id when theirs was merged).

   The table is updated with a Delta MERGE that touches only rows whose
   person, method or probability changed (``linked_at`` = when that row last
   changed), so a rerun on the same input leaves it as it was.

``match_method``: ``deterministic_id`` (the record shares a valid ID number
with another record), ``probabilistic`` (linked by a Splink edge only),
``singleton`` (no link). ``match_probability``: 1.0 for ``deterministic_id``,
the record's best Splink edge for ``probabilistic``, NULL for ``singleton``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from carelake.failpoints import failpoint
from carelake.mpi import model as m
from carelake.mpi import normalise as n

DEFAULT_INPUT_TABLE = "silver.int_patients__unioned"
DEFAULT_OUTPUT_TABLE = "silver.mpi_person_map"
_INPUT_COLUMNS = ("source_id", "patient_source_id", "id_number", "name", "sex", "birth_date", "phone", "address",
                  "region_code", "updated_at")


@dataclass
class MpiReport:
    output_table: str
    records: int = 0
    persons: int = 0
    new_persons: int = 0
    merged_persons: int = 0
    deterministic_edges: int = 0
    probabilistic_edges: int = 0
    rows_changed: int = 0
    threshold: float = m.DEFAULT_THRESHOLD
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _prepared_input(spark, input_table):
    from pyspark.sql import DataFrame

    df = input_table if isinstance(input_table, DataFrame) else spark.table(input_table)
    missing = [c for c in _INPUT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"MPI input lacks columns {missing}")
    df.select(*_INPUT_COLUMNS).createOrReplaceTempView("mpi_input_raw")
    return spark.sql(f"""
        select concat_ws('|', source_id, patient_source_id) as {m.UNIQUE_ID}, source_id, patient_source_id,
               id_number, name, sex, birth_date, phone, address, region_code,
               {n.id_valid_sql('id_number')} as id_valid
        from (select *, row_number() over (partition by source_id, patient_source_id
                                           order by updated_at desc nulls last) as _rn
              from mpi_input_raw where source_id is not null and patient_source_id is not null)
        where _rn = 1""")


def _deterministic_edges(spark, records):
    records.createOrReplaceTempView("mpi_records")
    return spark.sql(f"""
        select rep as {m.UNIQUE_ID}_l, {m.UNIQUE_ID} as {m.UNIQUE_ID}_r, 1.0D as match_probability,
               'deterministic_id' as edge_method
        from (select {m.UNIQUE_ID}, min({m.UNIQUE_ID}) over (partition by id_number) as rep
              from mpi_records where id_valid)
        where rep <> {m.UNIQUE_ID}""")


def _table_exists(spark, name: str) -> bool:
    return spark.catalog.tableExists(name)


def link_patients(spark, input_table=DEFAULT_INPUT_TABLE, output_table: str = DEFAULT_OUTPUT_TABLE, settings=None,
                  threshold: float = m.DEFAULT_THRESHOLD, model_path=None) -> MpiReport:
    """Link the input's patient records into persons and upsert ``output_table`` (see module doc)."""
    from pyspark.sql import functions as F
    from splink import Linker
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    from carelake.config import load_settings
    from carelake.mpi.splink_spark import splink_db_api

    settings = settings or load_settings()
    model_file = model_path or m.model_path(settings)
    if not model_file.is_file():
        raise FileNotFoundError(f"no trained MPI model at {model_file}: run python -m carelake.mpi.train")
    report = MpiReport(output_table=output_table, threshold=threshold)
    started = lap = time.perf_counter()

    def mark(step: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        report.timings[step] = round(now - lap, 2)
        lap = now

    records = _prepared_input(spark, input_table).persist()
    report.records = records.count()
    det_edges = _deterministic_edges(spark, records).persist()
    report.deterministic_edges = det_edges.count()
    mark("input+deterministic")

    with splink_db_api(spark, settings) as db_api:
        splink_input = records.drop("id_valid")
        sdf = db_api.register(splink_input, table_name=f"mpi_input_{int(time.time() * 1000)}")
        linker = Linker(sdf, str(model_file), log_level=None)
        predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        prob_edges = (predictions.as_spark_dataframe()
                      .select(f"{m.UNIQUE_ID}_l", f"{m.UNIQUE_ID}_r", "match_probability")
                      .withColumn("edge_method", F.lit("probabilistic")))
        edges = det_edges.unionByName(prob_edges).persist()
        report.probabilistic_edges = edges.count() - report.deterministic_edges
        mark("splink_predict")

        clusters = cluster_pairwise_predictions_at_threshold(
            records.select(m.UNIQUE_ID), edges.select(f"{m.UNIQUE_ID}_l", f"{m.UNIQUE_ID}_r"), db_api,
            node_id_column_name=m.UNIQUE_ID)
        cluster_df = clusters.as_spark_dataframe().select(m.UNIQUE_ID, "cluster_id")
        assigned = _assign_person_ids(spark, records, cluster_df, edges, output_table, report)
        mark("clustering+ids")
        linker.table_management.delete_tables_created_by_splink_from_db()
    edges.unpersist()
    det_edges.unpersist()
    records.unpersist()
    report.seconds = round(time.perf_counter() - started, 2)
    return assigned


def _assign_person_ids(spark, records, cluster_df, edges, output_table: str, report: MpiReport) -> MpiReport:
    """Stable ids, merges log and the Delta MERGE into ``output_table``; fills ``report``."""
    key = m.UNIQUE_ID
    merges_table = f"{output_table}_merges"
    cluster_df.createOrReplaceTempView("mpi_clusters")
    edges.createOrReplaceTempView("mpi_edges")
    records.select(key, "source_id", "patient_source_id").createOrReplaceTempView("mpi_keys")
    exists = _table_exists(spark, output_table)
    if exists:
        spark.table(output_table).createOrReplaceTempView("mpi_old")
    else:
        spark.sql("select cast(null as string) source_id, cast(null as string) patient_source_id, "
                  "cast(null as bigint) person_id, cast(null as string) match_method, "
                  "cast(null as double) match_probability, cast(null as timestamp) linked_at "
                  "where false").createOrReplaceTempView("mpi_old")
    if _table_exists(spark, merges_table):
        spark.table(merges_table).createOrReplaceTempView("mpi_old_merges")
    else:
        spark.sql("select cast(null as bigint) old_person_id, cast(null as bigint) person_id, "
                  "cast(null as timestamp) merged_at where false").createOrReplaceTempView("mpi_old_merges")

    now = spark.sql("select current_timestamp() as t").first()["t"]
    spark.sql(f"""
        with per_record as (  -- each record's link evidence
          select k, max(case when edge_method = 'deterministic_id' then 1 else 0 end) as det,
                 max(match_probability) as best
          from (select {key}_l as k, edge_method, match_probability from mpi_edges
                union all select {key}_r, edge_method, match_probability from mpi_edges)
          group by k)
        select r.{key}, r.source_id, r.patient_source_id, c.cluster_id,
               case when p.det = 1 then 'deterministic_id' when p.k is not null then 'probabilistic'
                    else 'singleton' end as match_method,
               case when p.det = 1 then 1.0D else p.best end as match_probability,
               o.person_id as old_person_id, o.linked_at as old_linked_at
        from mpi_keys r join mpi_clusters c on r.{key} = c.{key}
        left join per_record p on p.k = r.{key}
        left join mpi_old o on o.source_id = r.source_id and o.patient_source_id = r.patient_source_id
    """).persist().createOrReplaceTempView("mpi_current")

    spark.sql("""
        with claims as (
          select cluster_id, old_person_id, count(*) as n from mpi_current
          where old_person_id is not null group by cluster_id, old_person_id),
        won as (
          select cluster_id, old_person_id from (
            select *, row_number() over (partition by old_person_id order by n desc, cluster_id) as rk from claims)
          where rk = 1)
        select cluster_id, old_person_id, min(old_person_id) over (partition by cluster_id) as person_id from won
    """).persist().createOrReplaceTempView("mpi_won")

    max_issued = spark.sql("""
        select greatest(coalesce((select max(person_id) from mpi_old), 0),
                        coalesce((select max(old_person_id) from mpi_old_merges), 0),
                        coalesce((select max(person_id) from mpi_old_merges), 0)) as m""").first()["m"]
    spark.sql(f"""
        with kept as (select distinct cluster_id, person_id from mpi_won),
        fresh as (
          select cluster_id, {max_issued} + row_number() over (order by first_key) as person_id
          from (select c.cluster_id, min(c.{key}) as first_key from mpi_current c
                left anti join kept k on k.cluster_id = c.cluster_id group by c.cluster_id))
        select cluster_id, person_id, false as is_new from kept
        union all select cluster_id, person_id, true from fresh
    """).persist().createOrReplaceTempView("mpi_cluster_ids")

    merges = spark.sql(f"""
        select old_person_id, person_id, timestamp'{now}' as merged_at from mpi_won
        where old_person_id <> person_id""").persist()
    merges.createOrReplaceTempView("mpi_new_merges")
    report.merged_persons = merges.count()

    new_map = spark.sql(f"""
        select c.source_id, c.patient_source_id, i.person_id, c.match_method, c.match_probability,
               case when c.old_person_id = i.person_id then c.old_linked_at else timestamp'{now}' end as linked_at
        from mpi_current c join mpi_cluster_ids i on c.cluster_id = i.cluster_id
        union all  -- mapped records absent from this input
        select o.source_id, o.patient_source_id, coalesce(mg.person_id, o.person_id), o.match_method,
               o.match_probability, case when mg.person_id is null then o.linked_at else timestamp'{now}' end
        from mpi_old o
        left anti join mpi_current c on c.source_id = o.source_id and c.patient_source_id = o.patient_source_id
        left join mpi_new_merges mg on mg.old_person_id = o.person_id
    """).persist()
    new_map.createOrReplaceTempView("mpi_new_map")
    counts = spark.sql("""select count(distinct person_id) as persons from mpi_new_map""").first()
    report.persons = counts["persons"]
    report.new_persons = spark.sql("select count(*) as c from mpi_cluster_ids where is_new").first()["c"]

    # the merges log first: a Delta write to the map invalidates every cached plan that read it
    # (mpi_old), and a failure between the two writes must not lose the record of a merge
    if report.merged_persons:
        if _table_exists(spark, merges_table):
            spark.sql(f"""merge into {merges_table} t using mpi_new_merges s on t.old_person_id = s.old_person_id
                          when not matched then insert *""")
        else:
            merges.write.format("delta").mode("overwrite").saveAsTable(merges_table)

    failpoint("mpi.before_map_write")  # merges log written, map not: the rerun's MERGEs converge (docs/crash-safety.md)
    if not exists:
        new_map.write.format("delta").mode("overwrite").saveAsTable(output_table)
        report.rows_changed = report.records
    else:
        changed = spark.sql("""
            select nm.* from mpi_new_map nm
            left join mpi_old o on o.source_id = nm.source_id and o.patient_source_id = nm.patient_source_id
            where o.source_id is null or o.person_id <> nm.person_id or o.match_method <> nm.match_method
               or not (o.match_probability <=> nm.match_probability)""").persist()
        report.rows_changed = changed.count()
        if report.rows_changed:
            changed.createOrReplaceTempView("mpi_changed")
            spark.sql(f"""
                merge into {output_table} t using mpi_changed s
                on t.source_id = s.source_id and t.patient_source_id = s.patient_source_id
                when matched then update set *
                when not matched then insert *""")
        changed.unpersist()
    for view in ("mpi_current", "mpi_won", "mpi_cluster_ids", "mpi_new_merges", "mpi_new_map"):
        spark.table(view).unpersist()
    return report
