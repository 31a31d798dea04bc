"""Pairwise precision / recall of a person map against the generator's ground truth (``_truth/persons.csv``).

A pair is two records (source_id, patient_source_id) that share a person.
Predicted pairs come from ``person_id``, true pairs from ``person_key``; only
records present in both the map and the truth are counted.
"""

from __future__ import annotations

from pathlib import Path


def evaluate(spark, truth_persons_csv, map_table="silver.mpi_person_map") -> dict:
    from pyspark.sql import DataFrame

    truth = spark.read.option("header", True).csv(str(Path(truth_persons_csv)))
    mapped = map_table if isinstance(map_table, DataFrame) else spark.table(map_table)
    truth.select("source_id", "patient_source_id", "person_key").createOrReplaceTempView("mpi_eval_truth")
    mapped.select("source_id", "patient_source_id", "person_id").createOrReplaceTempView("mpi_eval_map")
    # pairs counted from group sizes (n records share a key -> n(n-1)/2 pairs), never enumerated: a join
    # "same person_key OR same person_id" has no equi-key and runs as a cartesian product at 1M records
    row = spark.sql("""
        with both_ as (
          select t.person_key, m.person_id
          from mpi_eval_truth t join mpi_eval_map m
            on t.source_id = m.source_id and t.patient_source_id = m.patient_source_id),
        true_pairs as (select sum(n * (n - 1) div 2) as c from (select count(*) as n from both_ group by person_key)),
        predicted_pairs as (select sum(n * (n - 1) div 2) as c
                            from (select count(*) as n from both_ group by person_id)),
        both_pairs as (select sum(n * (n - 1) div 2) as c
                       from (select count(*) as n from both_ group by person_key, person_id))
        select (select count(*) from both_) as records,
               coalesce((select c from both_pairs), 0) as tp,
               coalesce((select c from predicted_pairs), 0) as predicted,
               coalesce((select c from true_pairs), 0) as truth""").first()
    tp = row["tp"]
    fp, fn = row["predicted"] - tp, row["truth"] - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp, "false_positives": fp,
            "false_negatives": fn, "records": row["records"]}
