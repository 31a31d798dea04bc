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
    row = spark.sql("""
        with both_ as (
          select t.source_id, t.patient_source_id, t.person_key, m.person_id
          from mpi_eval_truth t join mpi_eval_map m
            on t.source_id = m.source_id and t.patient_source_id = m.patient_source_id),
        pairs as (
          select a.person_key = b.person_key as true_pair, a.person_id = b.person_id as predicted_pair
          from both_ a join both_ b
            on (a.person_key = b.person_key or a.person_id = b.person_id)
           and (a.source_id, a.patient_source_id) < (b.source_id, b.patient_source_id))
        select (select count(*) from both_) as records,
               count_if(true_pair and predicted_pair) as tp,
               count_if(predicted_pair and not true_pair) as fp,
               count_if(true_pair and not predicted_pair) as fn
        from pairs""").first()
    tp, fp, fn = row["tp"], row["fp"], row["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp, "false_positives": fp,
            "false_negatives": fn, "records": row["records"]}
