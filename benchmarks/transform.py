"""Bronze -> gold at growing sizes: silver build, MPI and gold build timed apart, time per row.

    .venv/bin/python benchmarks/transform.py                          # 10k and 100k patients-worth
    .venv/bin/python benchmarks/transform.py --patients 10000 100000 1000000
    .venv/bin/python benchmarks/transform.py --mpi-only 1000000       # the MPI point alone (benchmarks/mpi.py)
    .venv/bin/python benchmarks/transform.py --patients 1000000 --workdir /big/disk --reuse-landing  # rerun, same landing

For each size the generator writes ``--days`` daily extracts of 4 hospitals registering
``patients / 4`` patients each (with their visits, diagnoses, orders and results) into a fresh
throw-away lake; carelake ingests them (and the real samples, as the DAG does), then the three
transform steps run as ``carelake.transform`` runs them: the dbt silver build (seeds, staging,
intermediate), the MPI (deterministic + Splink, stable ids), the dbt gold build (OMOP + master
data; dbt tests included in both builds). Prints rows in (bronze rows), seconds and µs per bronze
row per step: a flat µs/row means the transform scales linearly. Each size runs in its own
process (its own Spark session and catalog server).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from scratch_lake import measure_in_child, scratch_lake

STEPS = ("build_silver", "link_patients", "deidentify", "build_gold")  # carelake.transform.STEPS (light import here)


def landing_to_reuse(landing: Path, patients: int, days: int) -> dict | None:
    """The generator's manifest of a landing folder generated earlier with these very arguments, else None."""
    manifest = landing / "_truth" / "manifest.json"
    if not manifest.exists():
        return None
    found = json.loads(manifest.read_text())
    arguments = found["arguments"]
    return found if (arguments["patients"], arguments["days"], arguments["hospitals"]) == (max(1, patients // 4), days, 4) else None


def one_size(patients: int, days: int, workdir: Path | None, reuse_landing: bool = False) -> dict:
    """Generate, ingest and transform ``patients`` patients-worth in a fresh lake; return the timings."""
    if reuse_landing and workdir:
        shutil.rmtree(workdir / "lake", ignore_errors=True)  # the lake is always fresh, only the landing is kept
    with scratch_lake(workdir, "carelake-bench-transform-", 1622) as (_folder, settings):
        from carelake.generate import generate
        from carelake.ingest import ingest
        from carelake.registry import load_registry
        from carelake.spark import get_spark
        from carelake.transform import run_step

        started = time.perf_counter()
        reused = landing_to_reuse(settings.landing_root, patients, days) if reuse_landing else None
        if reused:
            out = {"patients": patients, "generated_records": reused["total_records"], "generate_s": "reused"}
        else:
            summary = generate(settings.landing_root, hospitals=4, patients=max(1, patients // 4), days=days)
            out = {"patients": patients, "generated_records": summary.total_records,
                   "generate_s": round(time.perf_counter() - started, 1)}
        spark = get_spark(settings, app_name="carelake-bench-transform")
        started = time.perf_counter()
        report = ingest(settings, load_registry(settings), spark=spark)
        out["ingest_s"] = round(time.perf_counter() - started, 1)
        out["bronze_rows"] = report.totals()["rows_bronze"]
        for step in STEPS:  # as `carelake transform` and the Airflow DAG run them; a failing dbt build raises
            began = time.perf_counter()
            run_step(step, settings, spark)
            out[f"{step}_s"] = round(time.perf_counter() - began, 1)
        out["gold_rows"] = sum(spark.table(f"gold.{t}").count() for t in
                               ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "measurement"))
        return out


def print_table(results: list[dict]) -> None:
    print(f"\n{'patients':>9} {'bronze rows':>12} " + " ".join(f"{s + ' s':>16} {'µs/row':>7}" for s in STEPS)
          + f" {'total s':>8} {'µs/row':>7}")
    for r in results:
        rows = r["bronze_rows"]
        total = sum(r[f"{s}_s"] for s in STEPS)
        print(f"{r['patients']:>9,} {rows:>12,} " + " ".join(f"{r[f'{s}_s']:>16.1f} {r[f'{s}_s'] / rows * 1e6:>7.0f}" for s in STEPS)
              + f" {total:>8.1f} {total / rows * 1e6:>7.0f}")
    print("(ingest, not counted above: " + ", ".join(f"{r['patients']:,}: {r['ingest_s']}s" for r in results) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, nargs="+", default=[10_000, 100_000],
                        help="sizes, in patients registered across the 4 hospitals (default 10000 100000)")
    parser.add_argument("--days", type=int, default=2, help="days of daily extracts per size")
    parser.add_argument("--mpi-only", type=int, metavar="N", help="only the MPI on N patient records (benchmarks/mpi.py)")
    parser.add_argument("--workdir", type=Path, default=None, help="lake folder (one size only; default: a temp folder)")
    parser.add_argument("--reuse-landing", action="store_true",
                        help="with --workdir: keep a landing generated earlier with the same arguments (the lake is "
                             "rebuilt; generating 1M patients-worth takes ~20 min)")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # the child process of one size
    args = parser.parse_args()

    if args.mpi_only:
        import mpi

        mpi.main(["--records", str(args.mpi_only)])
        return
    if args.one_size:
        print("RESULT " + json.dumps(one_size(args.one_size, args.days, args.workdir, args.reuse_landing)))
        return
    results = []
    for patients in args.patients:
        started = time.perf_counter()
        results.append(measure_in_child(__file__, patients, args.days, args.workdir,
                                        ["--reuse-landing"] if args.reuse_landing else []))
        print(f"{patients:,} patients: {results[-1]} ({time.perf_counter() - started:.0f}s with start-up)", flush=True)
    print_table(results)


if __name__ == "__main__":
    main()
