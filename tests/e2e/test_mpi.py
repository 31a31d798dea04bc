"""Master patient index end to end on real Spark + Delta + Splink: accuracy, stable ids, reruns, merges."""

from __future__ import annotations

import random

import pytest

from carelake.generate import resident_id
from carelake.mpi import evaluate, link_patients, patients_from_bronze
from carelake.mpi import normalise as n

pytestmark = pytest.mark.spark

MAP = "silver.test_mpi_person_map"


def person_ids(spark, table: str = MAP) -> dict[tuple[str, str], int]:
    return {(r.source_id, r.patient_source_id): r.person_id for r in spark.table(table).collect()}


def drop(spark, table: str) -> None:
    spark.sql(f"drop table if exists {table}")
    spark.sql(f"drop table if exists {table}_merges")


@pytest.fixture(scope="module")
def mpi_input(spark, demo_lake):
    return patients_from_bronze(spark).cache()


@pytest.fixture(scope="module")
def linked(spark, settings, mpi_input):
    drop(spark, MAP)
    report = link_patients(spark, mpi_input, output_table=MAP, settings=settings)
    return report


def test_normalisation_rules_agree_with_the_generator(spark):
    rng = random.Random(3)
    from datetime import date

    numbers = [resident_id.make("330402", date(1980 + i % 40, 1 + i % 12, 1 + i % 28), i % 2 == 0, rng) for i in range(50)]
    broken = [x[:17] + ("0" if x[17] != "0" else "1") for x in numbers[:10]]
    rows = [(f"{x[:6]} {x[6:14]} {x[14:].lower()}",) for x in numbers + broken]
    got = spark.createDataFrame(rows, "raw string").selectExpr(f"{n.id_number_sql('raw')} as id") \
        .selectExpr("id", f"{n.id_valid_sql('id')} as ok").collect()
    assert [r.id for r in got] == numbers + broken
    assert [r.ok for r in got] == [True] * 50 + [False] * 10
    assert all(n.id_valid(x) for x in numbers) and not any(n.id_valid(x) for x in broken)
    address = n.address_sql("concat('浙江省', char(10), '嘉兴市 南湖区')")
    one = spark.sql(f"""select {n.phone_sql("'+86 139-1234-5678'")} p, {n.sex_sql("'女'")} s,
                       {n.birth_date_sql("'1990/03/04'")} d, {n.name_sql("' 张 三 '")} nm, {address} a""").first()
    assert (one.p, one.s, str(one.d), one.nm, one.a) == ("13912345678", "F", "1990-03-04", "张三", "浙江省嘉兴市南湖区")


def test_input_from_bronze_has_one_row_per_registration(mpi_input, demo_extracts):
    import csv

    with open(demo_extracts.truth_dir / "persons.csv", encoding="utf-8") as f:
        truth = {(r["source_id"], r["patient_source_id"]) for r in csv.DictReader(f)}
    keys = [(r.source_id, r.patient_source_id) for r in mpi_input.select("source_id", "patient_source_id").collect()]
    assert len(keys) == len(set(keys))
    assert set(keys) == truth


def test_precision_and_recall_against_ground_truth(spark, linked, demo_extracts):
    scores = evaluate(spark, demo_extracts.truth_dir / "persons.csv", MAP)
    assert scores["precision"] >= 0.98, scores
    assert scores["recall"] >= 0.98, scores
    assert linked.records == scores["records"]
    rows = spark.table(MAP).collect()
    assert len(rows) == len({(r.source_id, r.patient_source_id) for r in rows}) == linked.records
    methods = {r.match_method for r in rows}
    assert methods <= {"deterministic_id", "probabilistic", "singleton"} and "deterministic_id" in methods


def test_pairwise_scores_equal_a_brute_force_count(spark, tmp_path):
    """evaluate() counts pairs from group sizes; check it against enumerating every pair in Python."""
    from itertools import combinations

    rng = random.Random(5)
    truth = [(f"s{i % 3}", f"p{i}", f"k{i // 3}") for i in range(300)]  # persons of 3 records each
    mapped = [(s, p, int(k[1:]) // 2 if rng.random() < 0.1 else int(k[1:]) + (1000 if rng.random() < 0.1 else 0))
              for s, p, k in truth]  # some wrong merges (two persons share an id), some splits
    (tmp_path / "persons.csv").write_text("source_id,patient_source_id,person_key\n"
                                          + "".join(f"{s},{p},{k}\n" for s, p, k in truth), encoding="utf-8")
    got = evaluate(spark, tmp_path / "persons.csv",
                   spark.createDataFrame(mapped, "source_id string, patient_source_id string, person_id bigint"))
    pairs = list(combinations(range(len(truth)), 2))
    tp = sum(truth[a][2] == truth[b][2] and mapped[a][2] == mapped[b][2] for a, b in pairs)
    fp = sum(truth[a][2] != truth[b][2] and mapped[a][2] == mapped[b][2] for a, b in pairs)
    fn = sum(truth[a][2] == truth[b][2] and mapped[a][2] != mapped[b][2] for a, b in pairs)
    assert fp > 0 and fn > 0
    assert (got["true_positives"], got["false_positives"], got["false_negatives"]) == (tp, fp, fn)
    assert got["records"] == 300


def test_rerun_keeps_the_same_table(spark, settings, linked, mpi_input):
    before = sorted(tuple(r) for r in spark.table(MAP).collect())
    report = link_patients(spark, mpi_input, output_table=MAP, settings=settings)
    after = sorted(tuple(r) for r in spark.table(MAP).collect())
    assert report.rows_changed == 0 and report.new_persons == 0
    assert after == before


def test_new_records_join_existing_people_without_renumbering(spark, settings, mpi_input):
    """Run on part of the records first (as if the rest arrived later), then on all of them."""
    table = "silver.test_mpi_incremental"
    drop(spark, table)
    first = mpi_input.where("xxhash64(source_id, patient_source_id) % 5 <> 0")
    link_patients(spark, first, output_table=table, settings=settings)
    before = person_ids(spark, table)
    report = link_patients(spark, mpi_input, output_table=table, settings=settings)
    after = person_ids(spark, table)
    assert all(after[k] == v for k, v in before.items())  # nobody renumbered
    added = set(after) - set(before)
    assert added and report.records == len(after)
    assert report.new_persons == len({after[k] for k in added} - set(before.values()))
    assert any(after[k] in set(before.values()) for k in added)  # some joined an existing person
    assert max(after.values()) == max(before.values()) + report.new_persons
    drop(spark, table)


def test_clusters_that_merge_keep_the_smallest_id(spark, settings, mpi_input, linked):
    """A record first seen with too little to link gets its own id; once corrected, its person merges."""
    table = "silver.test_mpi_merge"
    drop(spark, table)
    pair = spark.sql(f"select * from {MAP}").groupBy("person_id").count().where("count = 2").orderBy("person_id").first()
    members = spark.table(MAP).where(f"person_id = {pair.person_id}").orderBy("source_id", "patient_source_id").collect()
    target = members[1]
    cond = f"source_id = '{target.source_id}' and patient_source_id = '{target.patient_source_id}'"
    blanked = mpi_input.selectExpr(
        "source_id", "patient_source_id",
        *[f"case when {cond} then {v} else {c} end as {c}" for c, v in (
            ("id_number", "null"), ("name", "'无名氏'"), ("sex", "sex"), ("birth_date", "null"), ("phone", "null"),
            ("address", "null"), ("region_code", "region_code"))],
        "updated_at")
    link_patients(spark, blanked, output_table=table, settings=settings)
    first = person_ids(spark, table)
    a, b = first[(members[0].source_id, members[0].patient_source_id)], first[(target.source_id, target.patient_source_id)]
    assert a != b
    report = link_patients(spark, mpi_input, output_table=table, settings=settings)
    second = person_ids(spark, table)
    assert report.merged_persons == 1
    assert second[(target.source_id, target.patient_source_id)] == second[(members[0].source_id, members[0].patient_source_id)] == min(a, b)
    merges = spark.table(f"{table}_merges").collect()
    assert [(r.old_person_id, r.person_id) for r in merges] == [(max(a, b), min(a, b))]
    unchanged = {k: v for k, v in first.items() if v not in (a, b)}
    assert all(second[k] == v for k, v in unchanged.items())
    drop(spark, table)
