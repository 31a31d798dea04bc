"""A table folder the catalog does not know - what a process killed between a new table's first Delta commit and
the metastore registering it leaves (dbt's first build of a model or seed) - is set aside by the next transform,
which then builds the table: the crash test met it on a seed (docs/crash-safety.md).

On the session demo lake: a seed is dropped (its files go with it), its Delta files are written back at its managed
location without a catalog entry - the killed create's state - and ``transform --select <seed>`` must end with the
seed in the catalog holding the CSV's rows and the stray folder kept under ``<lake>/_orphans/``.
"""

from __future__ import annotations

import csv

CHANGES_DEMO_LAKE = True  # drops and rebuilds a seed: after the tests that only read the lake
SEED = "map_routes"


def test_a_table_folder_left_by_a_killed_create_is_set_aside_and_the_table_built(spark, settings, gold):
    from carelake.pipeline import transform_step

    location = settings.lake_root / "silver" / SEED
    kept = spark.table(f"silver.{SEED}")
    rows, schema = kept.collect(), kept.schema
    assert location.is_dir() and rows
    spark.sql(f"DROP TABLE silver.{SEED}")
    assert not location.exists(), "a managed table's files go with DROP TABLE"
    spark.createDataFrame(rows[:1], schema).write.format("delta").save(str(location))  # files, no catalog entry
    assert not spark.catalog.tableExists(f"silver.{SEED}")

    summary = transform_step(settings, select=SEED, dbt_tests=False)

    assert "set aside" in summary and "built again" in summary, summary
    spark.catalog.refreshTable(f"silver.{SEED}")
    with (settings.project_dir / "transforms" / "seeds" / f"{SEED}.csv").open(encoding="utf-8", newline="") as handle:
        expected = sorted(tuple(r.values()) for r in csv.DictReader(handle))
    got = sorted(tuple("" if v is None else str(v) for v in r) for r in spark.table(f"silver.{SEED}").collect())
    assert got == expected
    stray = list((settings.lake_root / "_orphans").glob(f"*/silver/{SEED}/_delta_log"))
    assert len(stray) == 1, "the stray folder is kept, not deleted"
