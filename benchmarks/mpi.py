"""MPI (deterministic + Splink on Spark + stable ids) on N patient records.

    .venv/bin/python benchmarks/mpi.py                      # 20 000 records (quick)
    .venv/bin/python benchmarks/mpi.py --records 1000000    # the 1M point

Records are drawn straight into the MPI input contract with the generator's
own person factory and registration variations (name typos, ID/phone
formatting, moves; normalised as the input contract requires), ~30% of
persons registered at two of four sources, 2% missing ID numbers and 2%
missing birth dates. It links twice into a throw-away lake: a first run
(empty map) and a rerun (stable ids, nothing changes), printing seconds,
records/s and pairwise precision/recall against the drawn truth.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import date
from pathlib import Path

from scratch_lake import scratch_lake


def draw_records(n_records: int, seed: int = 42, sources: int = 4, overlap: float = 0.3):
    """(rows, truth rows): MPI input rows and (source_id, patient_source_id, person_key)."""
    from carelake.generate.population import PersonFactory
    from carelake.generate.variants import record_person

    rng = random.Random(seed)
    factory = PersonFactory(seed)
    today = date(2026, 10, 1)
    rows, truth, seen = [], [], set()
    number = 0
    while len(rows) < n_records:
        number += 1
        person = factory.person(number, rng, today)
        if person.id_number in seen:
            continue
        seen.add(person.id_number)
        homes = rng.sample(range(sources), 2 if rng.random() < overlap else 1)
        for home in homes:
            rec = record_person(person, factory, rng, multiline_ok=False)
            source = f"s{home:02d}"
            pid = f"{source}-{len(rows):09d}"
            id_number = "".join(ch for ch in rec.id_number if ch.isalnum()).upper()
            birth = person.birth_date
            roll = rng.random()
            if roll < 0.02:
                id_number = None
            elif roll < 0.04:
                birth = None
            phone = "".join(ch for ch in rec.phone if ch.isdigit())
            phone = phone[2:] if len(phone) == 13 and phone.startswith("86") else phone
            rows.append((source, pid, id_number, rec.name, person.sex, birth, phone, rec.address.text,
                         rec.address.region_code, None))
            truth.append((source, pid, person.key))
    return rows[:n_records], truth[:n_records]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, default=None, help="lake folder (default: a temp folder)")
    parser.add_argument("--no-rerun", action="store_true", help="skip the second (stable-id) run")
    args = parser.parse_args(argv)

    with scratch_lake(args.workdir, "carelake-bench-mpi-", 1578) as (workdir, settings):
        from carelake.mpi import evaluate, link_patients
        from carelake.spark import get_spark

        started = time.perf_counter()
        rows, truth = draw_records(args.records)
        print(f"drew {len(rows):,} records in {time.perf_counter() - started:.1f}s")
        spark = get_spark(settings, app_name="carelake-bench-mpi")
        schema = ("source_id string, patient_source_id string, id_number string, name string, sex string, "
                  "birth_date date, phone string, address string, region_code string, updated_at timestamp")
        spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite").saveAsTable("silver.bench_mpi_input")
        truth_csv = workdir / "persons.csv"
        truth_csv.write_text("source_id,patient_source_id,person_key\n" + "".join(f"{a},{b},{c}\n" for a, b, c in truth),
                             encoding="utf-8")
        del rows, truth
        spark.sql("drop table if exists silver.bench_mpi_map")
        runs = [("first run", True)] + ([] if args.no_rerun else [("rerun", False)])
        for label, _first in runs:
            t0 = time.perf_counter()
            report = link_patients(spark, "silver.bench_mpi_input", output_table="silver.bench_mpi_map", settings=settings)
            seconds = time.perf_counter() - t0
            print(f"{label}: {report.records:,} records, {report.persons:,} persons, {report.probabilistic_edges:,} "
                  f"Splink edges, {report.rows_changed:,} rows changed: {seconds:.1f}s, "
                  f"{report.records / seconds:,.0f} records/s  steps {report.timings}")
        scores = evaluate(spark, truth_csv, "silver.bench_mpi_map")
        print(f"precision {scores['precision']:.4f} recall {scores['recall']:.4f} f1 {scores['f1']:.4f}")


if __name__ == "__main__":
    main()
