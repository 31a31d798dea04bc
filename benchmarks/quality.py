"""Quality rules on the biggest checked table vs one plain Spark aggregation pass over it.

    .venv/bin/python benchmarks/quality.py                    # 5 000 patients per hospital (quick)
    .venv/bin/python benchmarks/quality.py --patients 20000   # the scaled point
    .venv/bin/python benchmarks/quality.py --existing         # on the configured lake (CARELAKE_* env), read only
                                                              # except quality.* rows of run "bench"

Generates 4 hospitals x N patients x D days into a throw-away lake, ingests them, builds silver with dbt,
then times, on the biggest checked table (by rows):

* baseline: one plain ``df.agg(...)`` pass over the table's source rows (count + a null count per column);
* carelake: the checked table built and cached, its ONE grouped aggregation (every rule per source per day),
  and the GX checkpoint on the cached frame (official result + Data Docs), and the whole
  ``validate(tables=[...])`` (with failed-row samples and Delta writes),

printing seconds, Spark jobs per phase and the ratios.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scratch_lake import scratch_lake


def _jobs(spark, group: str) -> int:
    return len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))


def _timed(spark, group: str, action):
    spark.sparkContext.setJobGroup(group, group)
    start = time.perf_counter()
    value = action()
    elapsed = time.perf_counter() - start
    spark.sparkContext.setJobGroup("idle", "idle")
    return value, elapsed, _jobs(spark, group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--existing", action="store_true", help="Measure on the configured lake; generate nothing.")
    args = parser.parse_args()
    if args.existing:
        from carelake.config import load_settings

        measure(load_settings())
        return
    with scratch_lake(args.workdir, "carelake-bench-quality-", 1641) as (_, settings):
        from carelake.generate import generate
        from carelake.ingest import ingest
        from carelake.registry import load_registry
        from carelake.spark import get_spark
        from carelake.transform import SILVER_SELECTION, build

        generate(settings.landing_root, hospitals=4, patients=args.patients, days=args.days, seed=11)
        ingest(settings, load_registry(settings), spark=get_spark(settings, app_name="bench-quality"))
        assert build(settings, SILVER_SELECTION).success
        measure(settings)


def measure(settings) -> None:
    from pyspark.sql import functions as F

    from carelake.quality import runner
    from carelake.quality.checked_tables import build_checked_table, staged_entity
    from carelake.quality.suites import load_suites
    from carelake.quality.thresholds import load_thresholds
    from carelake.spark import get_spark

    spark = get_spark(settings, app_name="bench-quality")
    sizes = {e: staged_entity(spark, e).count() for e in ("patients", "encounters", "diagnoses", "lab_results", "prescriptions")}
    entity = max(sizes, key=sizes.get)
    name = f"stg_{entity}"
    suite = load_suites(settings, [name])[name]
    print(f"rows per staged entity: {sizes}; biggest: {name} ({sizes[entity]:,} rows, {len(suite.rules)} rules)")

    def baseline():
        source = staged_entity(spark, entity)
        return source.agg(F.count(F.lit(1)), *[F.count_if(F.col(c).isNull()) for c in source.columns]).collect()

    baseline()  # warm (file listing, codegen)
    _, t_base, j_base = _timed(spark, "baseline", baseline)
    context = {"thresholds": load_thresholds(settings), "run_at": None}
    frame = build_checked_table(spark, name, context).persist()
    _, t_group, j_group = _timed(spark, "grouped", lambda: runner._grouped_counts(frame, suite))
    docs = settings.lake_root / "_quality" / "data_docs"
    gx_context = runner._gx_context(docs)
    run = runner.ValidationRun("bench", None, [name])
    _, t_gx, j_gx = _timed(spark, "gx", lambda: runner._run_gx(gx_context, suite, frame, run))
    frame.unpersist()
    _, t_all, j_all = _timed(spark, "validate", lambda: runner.validate(settings, spark, run_id="bench", tables=[name]))
    print(f"baseline one aggregation pass : {t_base:7.2f} s  {j_base:3d} jobs")
    print(f"build+cache+grouped counts    : {t_group:7.2f} s  {j_group:3d} jobs  ratio {t_group / t_base:5.2f}")
    print(f"GX checkpoint on cached frame : {t_gx:7.2f} s  {j_gx:3d} jobs  ratio {t_gx / t_base:5.2f}")
    print(f"validate(tables=[{name}])  : {t_all:7.2f} s  {j_all:3d} jobs  ratio {t_all / t_base:5.2f}")
    for table in ("quality.results", "quality.scores", "quality.failed_rows"):
        spark.sql(f"DELETE FROM {table} WHERE run_id = 'bench'")


if __name__ == "__main__":
    main()
