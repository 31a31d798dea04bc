"""End to end at growing sizes: bronze -> gold -> quality, against a bare Spark copy of the same files.

    .venv/bin/python benchmarks/scale.py                                  # 10k and 100k source rows
    .venv/bin/python benchmarks/scale.py --rows 10000 100000 1000000 10000000 --plot out/benchmarks/scale.png

For each size, in a fresh throw-away lake and its own process (``scratch_lake``, as the other benchmarks):

1. the generator writes ``--days`` daily extracts of 4 hospitals (CSV en, GB18030 CSV zh, FHIR NDJSON,
   HL7 v2), scaled as ``benchmarks/transform.py`` scales it: about ``RECORDS_PER_PATIENT`` records per
   registered patient over two days, so ``--rows N`` registers ``N / RECORDS_PER_PATIENT`` patients;
2. **bare**: Spark copies every landed file of the run into Delta, one table per source entity, with no
   validation, lineage or ledger — CSV with ``spark.read.csv`` (header, the source's encoding and
   delimiter, multiLine), the line formats (FHIR NDJSON, HL7) with ``spark.read.text``, images with
   ``binaryFile``. This is the floor: the I/O a lake load cannot avoid;
3. **carelake**, as the DAGs run it: ``ingest`` (bronze, all registered sources — the generated
   hospitals and the real samples, as in ``benchmarks/transform.py``), the four transform steps
   (dbt silver, MPI, de-identification, dbt gold), then ``validate`` (all quality suites).

Prints, per size and stage: seconds, rows/s and µs per source row (source rows = the records carelake
read into bronze, samples included); the end-to-end ratio carelake / bare (target <= 2x); and writes a PNG
of µs per row against size (log x) for every stage. Results also go to a JSON beside the plot, so a
size run elsewhere (the 16-core machine) can be merged by ``--merge FILE``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from scratch_lake import measure_in_child, scratch_lake

RECORDS_PER_PATIENT = 6.64  # benchmarks/transform.py at --days 2: 10k patients -> 66,448 generated records
TRANSFORM_STEPS = ("build_silver", "link_patients", "deidentify", "build_gold")  # carelake.transform.STEPS
STAGES = ("ingest", *TRANSFORM_STEPS, "quality")
DEFAULT_PLOT = Path("out/benchmarks/scale.png")


def bare_copy(spark, files: list) -> None:
    """Spark's own read of the same files written as one Delta table per source entity."""
    from collections import defaultdict

    groups: dict[str, list] = defaultdict(list)
    for f in files:
        groups[f.table].append(f)
    for table, table_files in groups.items():
        source = table_files[0].source
        paths = [str(f.path) for f in table_files]
        if source.format == "csv":
            frame = (spark.read.option("header", True).option("encoding", source.csv.encoding)
                     .option("sep", source.csv.delimiter).option("multiLine", True).csv(paths))
        elif source.format == "dicom":
            frame = spark.read.format("binaryFile").load(paths)
        else:  # fhir_ndjson, hl7v2: one record per line / segment, kept as text
            frame = spark.read.text(paths)
        frame.write.format("delta").mode("overwrite").saveAsTable(f"bronze.bare_{table}")


@contextmanager
def timed(out: dict, rows: int, stage: str):
    """Time the block into ``out[f"{stage}_s"]`` and print one line on stderr when it ends, so a long size shows
    where it is (stdout carries the RESULT)."""
    began = time.perf_counter()
    yield
    out[f"{stage}_s"] = round(time.perf_counter() - began, 1)
    print(f"[{rows:,} rows] {stage}: {out[f'{stage}_s']:.1f} s", file=sys.stderr, flush=True)


def one_size(rows: int, days: int, workdir: Path | None) -> dict:
    """Generate ~``rows`` source records, copy them bare, then run carelake end to end; the timings."""
    with scratch_lake(workdir, "carelake-bench-scale-", 1655) as (_folder, settings):
        from carelake.generate import generate
        from carelake.ingest import ingest
        from carelake.ingest.landed import discover
        from carelake.quality import validate
        from carelake.registry import load_registry
        from carelake.spark import get_spark
        from carelake.transform import run_step

        patients = max(4, round(rows / RECORDS_PER_PATIENT))
        out = {"rows_asked": rows, "patients": patients}
        with timed(out, rows, "generate"):
            summary = generate(settings.landing_root, hospitals=4, patients=max(1, patients // 4), days=days)
        out["generated_records"] = summary.total_records
        registry = load_registry(settings)
        files = discover(registry, [s for s in registry.sources if s.format != "jdbc"])
        out["files"], out["mb"] = len(files), round(sum(f.size for f in files) / 1e6, 1)
        spark = get_spark(settings, app_name="carelake-bench-scale")
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # the bare copy reads GB18030
        spark.range(1000).write.format("delta").mode("overwrite").saveAsTable("bronze.bench_warmup")  # JIT/catalog
        with timed(out, rows, "bare"):
            bare_copy(spark, files)
        for table in [r.tableName for r in spark.sql("SHOW TABLES IN bronze").collect() if r.tableName.startswith("bare_")]:
            spark.sql(f"DROP TABLE bronze.{table}")  # the copies must not look like bronze tables to later steps
        spark.sql("DROP TABLE bronze.bench_warmup")

        with timed(out, rows, "ingest"):
            report = ingest(settings, registry, spark=spark)
        assert report.balanced, report.totals()
        out["source_rows"] = report.totals()["rows_read"]
        out["bronze_rows"] = report.totals()["rows_bronze"]
        for step in TRANSFORM_STEPS:  # as `carelake transform` and the Airflow DAG run them; a failing build raises
            with timed(out, rows, step):
                run_step(step, settings, spark)
        with timed(out, rows, "quality"):
            run = validate(settings, spark, run_id="bench-scale")
        out["quality_gate_passed"] = run.gate_passed
        out["gold_rows"] = sum(spark.table(f"gold.{t}").count() for t in
                               ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "measurement"))
        return out


def total_s(r: dict) -> float:
    return sum(r[f"{s}_s"] for s in STAGES)


def print_table(results: list[dict]) -> None:
    print(f"\n{'source rows':>12} {'stage':>14} {'seconds':>9} {'rows/s':>10} {'µs/row':>9}")
    for r in results:
        n = r["source_rows"]
        for stage in (*STAGES, "total", "bare"):
            s = total_s(r) if stage == "total" else r[f"{stage}_s"]
            print(f"{n:>12,} {stage:>14} {s:>9.1f} {n / s:>10,.0f} {s / n * 1e6:>9.0f}")
        print(f"{'':>12} {'ratio':>14} carelake end to end / bare copy = {total_s(r) / r['bare_s']:.1f}x "
              f"(target <= 2x; ingest alone {r['ingest_s'] / r['bare_s']:.1f}x)")


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["source_rows"])
    sizes = [r["source_rows"] for r in results]
    fig, ax = plt.subplots(figsize=(8, 5))
    for stage in (*STAGES, "total", "bare"):
        values = [(total_s(r) if stage == "total" else r[f"{stage}_s"]) / r["source_rows"] * 1e6 for r in results]
        style = {"total": dict(linewidth=2.5, color="black"), "bare": dict(linewidth=2.5, linestyle="--", color="grey")}
        ax.plot(sizes, values, marker="o", label=stage, **style.get(stage, {}))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("source rows (records read into bronze)")
    ax.set_ylabel("µs per source row")
    ax.set_title("carelake end to end vs bare Spark copy: time per row")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000],
                        help="sizes in generated source records (default 10000 100000; none with --merge: only "
                             "print and plot the merged results)")
    parser.add_argument("--days", type=int, default=2, help="days of daily extracts per size")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG to write (JSON results beside it)")
    parser.add_argument("--merge", type=Path, nargs="*", default=[], help="earlier results JSON to plot with these")
    parser.add_argument("--workdir", type=Path, default=None, help="lake folder (one size only; default: a temp folder)")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)  # the child process of one size
    args = parser.parse_args()

    if args.one_size:
        print("RESULT " + json.dumps(one_size(args.one_size, args.days, args.workdir)))
        return
    results = [r for path in args.merge for r in json.loads(path.read_text())]
    for rows in args.rows:
        started = time.perf_counter()
        results.append(measure_in_child(__file__, rows, args.days, args.workdir))
        print(f"{rows:,} rows: {results[-1]} ({time.perf_counter() - started:.0f}s with start-up)", flush=True)
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        args.plot.with_suffix(".json").write_text(json.dumps(results, indent=1))
    print_table(results)
    plot(results, args.plot)


if __name__ == "__main__":
    main()
