"""`carelake <command>`: a thin command line over the package (every pipeline step is a command)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="carelake: hospital extracts -> governed Delta lakehouse (bronze, silver, gold OMOP CDM).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(help="Inspect and validate the source registry (metadata/sources.yml).", no_args_is_help=True)
metastore_app = typer.Typer(help="Start, stop or check the shared catalog's Derby server.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(metastore_app, name="metastore")
# wide enough for the ledger tables when output goes to a file or a CI log
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def _settings():
    from carelake.config import load_settings

    return load_settings()


def _registry(settings, registry_file: Optional[Path]):
    from carelake.registry import RegistryError, load_registry

    try:
        return load_registry(settings, path=registry_file)
    except RegistryError as exc:
        err.print(f"[red]registry error[/red] {exc}")
        raise typer.Exit(2) from None


def _spark(settings):
    from carelake.jars import JarsMissing
    from carelake.spark import get_spark

    try:
        return get_spark(settings)
    except JarsMissing as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )


RegistryOpt = typer.Option(None, "--registry", help="Registry file to use instead of metadata/sources.yml.")
DbtTestsOpt = typer.Option(True, "--dbt-tests/--no-dbt-tests",
                           help="Run the dbt tests with the models (default). --no-dbt-tests builds models and seeds "
                                "only: for a rebuild whose tests passed on the same code and data (e.g. a second engine).")


@app.command()
def setup():
    """Resolve the Delta and Derby jars from Maven Central into .cache/jars (once; later runs are offline)."""
    from carelake.jars import JarsMissing, resolve

    settings = _settings()
    try:
        paths = resolve(settings, quiet=True)
    except JarsMissing as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for role, path in paths.items():
        console.print(f"{role:14} {path}")


@app.command()
def generate(
    out: Path = typer.Option(None, help="Landing folder to write into (default: the configured landing root)."),
    hospitals: int = typer.Option(4, help="Number of hospitals (layouts cycle: CSV en, GB18030 CSV zh, FHIR, HL7 v2)."),
    patients: int = typer.Option(300, help="Patients per hospital."),
    days: int = typer.Option(2, help="Days of daily extracts."),
    start_date: str = typer.Option("2026-10-01", help="First extract date (YYYY-MM-DD)."),
    seed: int = typer.Option(42, help="Random seed: same seed, same files."),
    follow_on_days: int = typer.Option(0, help="More days after --days (the first --days days stay byte-identical)."),
    only_date: list[str] = typer.Option(None, "--only-date", help="Write only this extract date's files (repeatable), "
                                        "e.g. the next day into a landing folder holding the earlier days."),
):
    """Write synthetic multi-hospital extracts with injected defects and a ground-truth manifest."""
    from carelake.generate import generate as run_generate

    settings = _settings()
    target = out or settings.landing_root
    summary = run_generate(target, hospitals=hospitals, patients=patients, days=days, start_date=start_date, seed=seed,
                           follow_on_days=follow_on_days, only_dates=only_date or None)
    console.print(
        f"wrote {len(summary.files)} files, {summary.total_records:,} records for {len(summary.sources)} sources "
        f"into {target} (ground truth in {summary.truth_dir})"
    )


@app.command()
def ingest(
    source: list[str] = typer.Option(None, "--source", "-s", help="Only these source ids (repeatable)."),
    date: Optional[str] = typer.Option(None, help="Only files of this extract date (YYYY-MM-DD), e.g. an Airflow data interval."),
    retry_failed: bool = typer.Option(False, help="Try again files the ledger records as failed."),
    fail_on_error: bool = typer.Option(False, help="Exit non-zero when any file failed (not only when unbalanced)."),
    registry_file: Optional[Path] = RegistryOpt,
):
    """Load new landed files into bronze Delta tables; rejected records go to bronze.quarantine.

    Prints the per-file ledger of this batch. Exit code 3 if any file does not balance
    (rows read != rows in bronze + rows quarantined), 1 with --fail-on-error if a file failed.
    """
    from carelake.ingest import ingest as run_ingest

    settings = _settings()
    registry = _registry(settings, registry_file)
    spark = _spark(settings)
    with _progress() as progress:
        report = run_ingest(settings, registry, source_ids=source or None, date=date, retry_failed=retry_failed,
                            spark=spark, progress=progress)
    print_ingest_report(report)
    if not report.balanced:
        raise typer.Exit(3)
    if fail_on_error and (report.failed or any(p.error for p in report.pulls)):
        raise typer.Exit(1)


def print_ingest_report(report) -> None:
    table = Table(title=f"ingest batch {report.batch_id}", show_lines=False)
    for col, justify in (("source", "left"), ("entity", "left"), ("files", "right"), ("read", "right"),
                         ("bronze", "right"), ("quarantined", "right"), ("failed", "right"), ("balanced", "center")):
        table.add_column(col, justify=justify)
    groups: dict[tuple[str, str], list] = {}
    for o in report.outcomes:
        groups.setdefault((o.file.source.id, o.file.entity.name), []).append(o)
    for (sid, entity), outs in sorted(groups.items()):
        table.add_row(
            sid, entity, str(len(outs)), f"{sum(o.rows_read for o in outs):,}", f"{sum(o.rows_bronze for o in outs):,}",
            f"{sum(o.rows_quarantined for o in outs):,}", str(sum(o.status == 'failed' for o in outs)),
            "yes" if all(o.balanced for o in outs) else "[red]NO[/red]",
        )
    t = report.totals()
    table.add_section()
    table.add_row("total", "", str(t["files"]), f"{t['rows_read']:,}", f"{t['rows_bronze']:,}", f"{t['rows_quarantined']:,}",
                  str(t["failed"]), "yes" if report.balanced else "[red]NO[/red]")
    console.print(table)
    if report.skipped or report.duplicates:
        console.print(f"skipped {len(report.skipped)} file(s) already in the ledger; {len(report.duplicates)} new file(s) "
                      "had the content of a loaded file (recorded in the ledger as duplicate, not reloaded)")
    for o in report.failed:
        console.print(f"[red]failed[/red] {o.describe()}  ({o.rows_quarantined} record(s) quarantined)")
    for table_name, cols in report.drift.items():
        console.print(f"[yellow]schema drift[/yellow] bronze.{table_name}: new column(s) {', '.join(cols)}")
    for pull in report.pulls:  # jdbc sources
        console.print(("[red]pull[/red] " if pull.error else "pulled ") + pull.describe())


@app.command()
def transform(
    select: Optional[str] = typer.Option(None, help="Only this dbt selection (e.g. 'staging', 'marts', 'person+')."),
    full_refresh: bool = typer.Option(False, help="Rebuild incremental models from scratch."),
    step: list[str] = typer.Option(None, "--step", help="Only these steps (repeatable), as the Airflow tasks: "
                                   "build_silver, link_patients, deidentify, build_gold."),
    dbt_tests: bool = DbtTestsOpt,
):
    """Build silver and gold with dbt (transforms/) and link patients across sources (MPI).

    Runs `dbt build` (models + dbt tests) for seeds, staging and intermediate, then the master
    patient index (Splink on Spark), then de-identification (keyed pseudonyms, redacted notes), then the
    gold marts (OMOP CDM v5.4 + master data). Exit 1 on a failure.
    """
    _transform_or_exit(_settings(), select=select, full_refresh=full_refresh, steps=step or None, dbt_tests=dbt_tests)


def _transform_or_exit(settings, **options) -> None:
    """Run silver -> MPI -> de-identification -> gold and print the summary; exit 1 with the summary so far on a failure."""
    from carelake.pipeline import StepFailed, transform_step

    try:
        console.print(transform_step(settings, **options))
    except StepFailed as exc:
        console.print(f"[red]transform failed[/red]\n{exc}")
        raise typer.Exit(1) from None
    except ValueError as exc:  # an unknown --step
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def ledger(
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Only this source id."),
    failed: bool = typer.Option(False, help="Only failed files."),
    limit: int = typer.Option(50, help="Rows to show."),
):
    """Show the ingest ledger: per file, rows read / in bronze / quarantined, status and error."""
    from carelake.ingest import LEDGER_TABLE

    spark = _spark(_settings())
    frame = spark.table(LEDGER_TABLE)
    if source:
        frame = frame.where(frame.source_id == source)
    if failed:
        frame = frame.where(frame.status == "failed")
    rows = frame.orderBy("source_id", "entity", "file_path").limit(limit).collect()
    table = Table(title=LEDGER_TABLE)
    for col in ("source_id", "entity", "file", "status", "read", "bronze", "quarantined", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.source_id, r.entity, Path(r.file_path).name, r.status, str(r.rows_read), str(r.rows_bronze),
                      str(r.rows_quarantined), r.error or "")
    console.print(table)


@app.command()
def quarantine(
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Only this source id."),
    limit: int = typer.Option(30, help="Rows to show."),
):
    """Show quarantined records: file, row, reason and the raw text as found."""
    from carelake.ingest import QUARANTINE_TABLE

    spark = _spark(_settings())
    frame = spark.table(QUARANTINE_TABLE)
    if source:
        frame = frame.where(frame.source_id == source)
    table = Table(title=QUARANTINE_TABLE)
    for col in ("source_id", "file", "row", "reason", "raw text"):
        table.add_column(col, overflow="fold")
    for r in frame.orderBy("source_id", "file_path", "row_number").limit(limit).collect():
        table.add_row(r.source_id, Path(r.file_path).name, str(r.row_number), r.reason, (r.raw_text or "")[:120])
    console.print(table)


@app.command()
def validate(
    table: list[str] = typer.Option(None, "--table", "-t", help="Only these suites / checked tables (repeatable), e.g. stg_encounters."),
    run_id: Optional[str] = typer.Option(None, help="Run id (rerunning an id replaces its rows)."),
):
    """Run the quality suites (expectations/) on silver and gold; write quality.results, scores, failed_rows and Data Docs.

    Exit 1 if a critical rule failed its threshold (metadata/quality/thresholds.yml).
    """
    from carelake.quality import validate as run_validate

    settings = _settings()
    run = run_validate(settings, _spark(settings), run_id=run_id, tables=table or None)
    console.print(run.summary())
    if not run.gate_passed:
        console.print("[red]quality gate failed:[/] " + "; ".join(run.critical_failures))
        raise typer.Exit(1)


@app.command()
def report(
    month: str = typer.Option(..., "--month", help="The month reported, YYYY-MM (the month before is the comparison)."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default <lake>/_reports/quality-YYYY-MM.html)."),
):
    """Write the monthly quality report: one self-contained HTML file (scorecard, trends, 5+3+2, rules, anomalies, alerts)."""
    from carelake.quality.report import build_report

    settings = _settings()
    try:
        path = build_report(_spark(settings), settings, month, out)
    except (LookupError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"quality report for {month}: {path}")


@app.command()
def dashboard(
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default <lake>/_dashboard/index.html); "
                                       "dashboard.json is written beside it."),
    serve_port: Optional[int] = typer.Option(None, "--serve", help="Then serve the page on http://127.0.0.1:PORT/ until Ctrl-C."),
    check: bool = typer.Option(False, "--check", help="Only validate metadata/operations/indicators.yml (no lake needed)."),
):
    """Write the operations dashboard: every indicator of metadata/operations/indicators.yml with value, red / amber /
    green status and definition, plus charts; values also to dashboard.json and ops.indicator_values."""
    from carelake.operations.indicators import IndicatorError, load_indicators

    settings = _settings()
    try:
        catalog = load_indicators(settings)
    except IndicatorError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if check:
        console.print(f"[green]ok[/green] {len(catalog.indicators)} indicators, {len(catalog.charts)} charts in {catalog.path}")
        return
    from carelake.operations.dashboard import build_dashboard
    from carelake.operations.evaluate import IndicatorEvaluationError

    try:
        path = build_dashboard(_spark(settings), settings, out)
    except IndicatorEvaluationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"operations dashboard: {path}")
    if serve_port is not None:
        from carelake.operations.serve import serve

        console.print(f"serving on http://127.0.0.1:{serve_port}/{path.name} (Ctrl-C stops)")
        serve(path, serve_port)


@app.command()
def tables(layer: Optional[str] = typer.Argument(None, help="bronze, silver, gold, quality or audit (default: all).")):
    """List the lake's tables with their row counts."""
    from carelake.lake import table_counts

    spark = _spark(_settings())
    table = Table(title="lake tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in table_counts(spark, [layer] if layer else None):
        table.add_row(name, f"{count:,}")
    console.print(table)


@app.command()
def demo(
    hospitals: int = typer.Option(4, help="Number of generated hospitals."),
    patients: int = typer.Option(300, help="Patients per hospital."),
    days: int = typer.Option(2, help="Days of daily extracts."),
    with_transform: bool = typer.Option(True, "--transform/--no-transform", help="Also build silver and gold (dbt + MPI)."),
    with_governance: bool = typer.Option(True, "--governance/--no-governance",
                                         help="Also validate (quality report of the last month) and build the role views."),
):
    """The main job on the embedded default: generate extracts, ingest them and the real samples, build silver and gold,
    validate them, write the month's quality report and the role-based masked views.

    A demo lake is a development lake: unless CARELAKE_PSEUDONYM_KEY is set it uses the documented dev pseudonym key.
    """
    from carelake.generate import generate as run_generate

    os.environ.setdefault("CARELAKE_ENV", "dev")
    settings = _settings()
    registry = _registry(settings, None)
    summary = run_generate(settings.landing_root, hospitals=hospitals, patients=patients, days=days)
    console.print(f"generated {summary.total_records:,} records in {len(summary.files)} files into {settings.landing_root}")
    _run_pipeline(settings, registry, with_transform, with_governance, last_day=max(f.extract_date for f in summary.files))


@app.command("run")
def run_pipeline(
    with_transform: bool = typer.Option(True, "--transform/--no-transform", help="Also build silver and gold (dbt + MPI)."),
    with_governance: bool = typer.Option(True, "--governance/--no-governance",
                                         help="Also validate (quality report of the last month) and build the role views."),
    registry_file: Optional[Path] = RegistryOpt,
    dbt_tests: bool = DbtTestsOpt,
):
    """The whole pipeline on what has landed: ingest every new file, build silver and gold, validate, report, views.

    The same job as `carelake demo` without generating extracts; on a cluster set CARELAKE_SPARK_MASTER
    (docs/scale-out.md). Exit 3 if the ingest does not balance, 1 if a transform step fails.
    """
    settings = _settings()
    _run_pipeline(settings, _registry(settings, registry_file), with_transform, with_governance, last_day=None,
                  dbt_tests=dbt_tests)


def _run_pipeline(settings, registry, with_transform: bool, with_governance: bool, last_day: str | None,
                  dbt_tests: bool = True) -> None:
    from carelake.ingest import ingest as run_ingest

    spark = _spark(settings)
    with _progress() as progress:
        report = run_ingest(settings, registry, spark=spark, progress=progress)
    print_ingest_report(report)
    if not report.balanced:
        raise typer.Exit(3)
    if with_transform:
        _transform_or_exit(settings, dbt_tests=dbt_tests)
    if with_transform and with_governance:
        last_day = last_day or _last_extract_date(spark)
        _demo_governance(settings, spark, last_day=last_day)
    console.print(f"lake: {settings.lake_root}  (try: carelake tables gold, carelake ledger --failed, carelake quarantine)")


def _last_extract_date(spark) -> str:
    from carelake.ingest.tables import LEDGER_TABLE

    return spark.sql(f"SELECT max(extract_date) FROM {LEDGER_TABLE} WHERE status = 'loaded'").first()[0]


def _demo_governance(settings, spark, last_day: str) -> None:
    """Validate (all three levels), write the quality report of the last extract month, build the role views, write the
    operations dashboard."""
    from carelake.access.roles import build_views
    from carelake.operations.dashboard import build_dashboard
    from carelake.quality import validate as run_validate
    from carelake.quality.report import build_report

    run = run_validate(settings, spark)
    console.print(run.summary())
    console.print(f"quality report: {build_report(spark, settings, last_day[:7])}")
    console.print(build_views(spark, settings).summary())
    console.print(f"operations dashboard: {build_dashboard(spark, settings)}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def airflow(ctx: typer.Context):
    """Run the `airflow` CLI on carelake's local Airflow (AIRFLOW_HOME=.airflow, DAGs from ./dags, 127.0.0.1 only).

    Examples: `carelake airflow standalone` (UI on http://127.0.0.1:8080),
    `carelake airflow dags test carelake_ingest 2026-10-01`, `carelake airflow dags list`.
    The metadata database is migrated on first use.
    """
    import os
    import shutil
    import subprocess

    from carelake.orchestration import airflow_env

    env = {**os.environ, **airflow_env()}
    binary = shutil.which("airflow", path=str(Path(sys.executable).parent)) or "airflow"
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "airflow.db").exists():
        subprocess.run([binary, "db", "migrate"], env=env, check=True)
    raise typer.Exit(subprocess.call([binary, *ctx.args], env=env))


@sources_app.command("list")
def sources_list(registry_file: Optional[Path] = RegistryOpt):
    """List registered sources and their entities."""
    registry = _registry(_settings(), registry_file)
    table = Table(title=str(registry_file or registry.settings.sources_file))
    for col in ("id", "kind", "format", "organization", "entities"):
        table.add_column(col, overflow="fold")
    for s in registry.sources:
        table.add_row(s.id, s.kind, s.format, s.organization or "", ", ".join(s.entities))
    console.print(table)


@sources_app.command("validate")
def sources_validate(registry_file: Optional[Path] = RegistryOpt):
    """Validate the registry file; exit 2 with every problem named if it is wrong."""
    registry = _registry(_settings(), registry_file)
    console.print(f"[green]ok[/green] {len(registry.sources)} sources, {sum(len(s.entities) for s in registry.sources)} entities")


@sources_app.command("profile")
def sources_profile(
    folder: Path = typer.Argument(..., help="Folder (or file) of a new source's extracts."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
):
    """Profile extracts: encoding, delimiter, header, column types, date formats, code systems, keys, PII, malformed rows."""
    import json

    from carelake.onboarding.profile import profile_folder, render

    try:
        profiles = profile_folder(folder)
    except FileNotFoundError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps([p.to_dict() for p in profiles], ensure_ascii=False, indent=2))
    else:
        render(profiles, console)


@sources_app.command("suggest")
def sources_suggest(
    folder: Path = typer.Argument(..., help="Folder of the new source's extracts (date folders become {date})."),
    source_id: str = typer.Option(..., "--id", help="Id of the new source (lower_snake_case)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the proposed entry here instead of printing it."),
    registry_file: Optional[Path] = RegistryOpt,
):
    """Propose a registry entry for a new source: entities, column mapping with confidences, formats (review the TODOs)."""
    from carelake.onboarding.suggest import suggest

    settings = _settings()
    proposal = suggest(folder, source_id, _registry(settings, registry_file), settings).to_yaml()
    if out:
        out.write_text(proposal, encoding="utf-8")
        err.print(f"wrote {out}")
    else:
        print(proposal, end="")


@sources_app.command("check")
def sources_check(
    source_id: str = typer.Argument(..., help="The source to dry-run."),
    entry: Optional[Path] = typer.Option(None, "--entry", help="A proposed entry (YAML list, as `suggest` writes) to check instead of the registered one."),
    date: Optional[str] = typer.Option(None, "--date", help="Only the files of this extract date (YYYY-MM-DD)."),
    registry_file: Optional[Path] = RegistryOpt,
):
    """Dry run over the landed files, writing nothing: rows -> bronze / quarantine, unmapped required columns; exit 1 on errors."""
    import yaml

    from carelake.onboarding.check import check_source, render, with_entries
    from carelake.registry import RegistryError

    registry = _registry(_settings(), registry_file)
    try:
        if entry:
            registry = with_entries(registry, yaml.safe_load(entry.read_text(encoding="utf-8")))
        report = check_source(registry, registry.source(source_id), date)
    except RegistryError as exc:
        err.print(f"[red]registry error[/red] {exc}")
        raise typer.Exit(2) from None
    render(report, console)
    raise typer.Exit(0 if report.ok else 1)


@sources_app.command("pull")
def sources_pull(
    source_ids: Optional[list[str]] = typer.Argument(None, help="jdbc sources to pull (default: every jdbc source)."),
    registry_file: Optional[Path] = RegistryOpt,
):
    """Pull database (jdbc) sources incrementally into bronze (watermark, merge by key, deletes); exit 1 on a failed pull."""
    from carelake.ingest.jdbc import PullFailed, pull_sources

    settings = _settings()
    registry = _registry(settings, registry_file)
    try:
        results = pull_sources(settings, registry, source_ids or None, spark=_spark(settings))
    except PullFailed as exc:
        err.print(f"[red]pull failed[/red] {exc}")
        raise typer.Exit(1) from None
    for r in results:
        console.print(r.describe())


@metastore_app.command("start")
def metastore_start():
    """Start the Derby network server holding the shared catalog (no-op if running)."""
    from carelake import metastore

    settings = _settings()
    metastore.ensure_running(settings)
    console.print(metastore.status(settings))


@metastore_app.command("stop")
def metastore_stop():
    """Stop the Derby network server this lake started."""
    from carelake import metastore

    settings = _settings()
    console.print("stopped" if metastore.stop(settings) else "not running (no pid file)")


@metastore_app.command("status")
def metastore_status():
    """Say whether the catalog server is listening."""
    from carelake import metastore

    console.print(metastore.status(_settings()))


# --- scale-out: a Spark standalone cluster on this machine (docs/scale-out.md) ---
cluster_app = typer.Typer(help="A Spark standalone cluster on 127.0.0.1 (master + workers from pyspark's spark-class).",
                          no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")


def _cluster_dir(settings) -> Path:
    return settings.lake_root / "_cluster" / "spark"


@cluster_app.command("start")
def cluster_start(
    workers: int = typer.Option(1, help="Number of workers."),
    cores: int = typer.Option(2, help="Cores each worker offers."),
    memory: str = typer.Option("4g", help="Memory each worker offers to executors."),
):
    """Start a master and workers; print the master URL to put in CARELAKE_SPARK_MASTER."""
    from carelake.cluster import ClusterError, StandaloneCluster

    try:
        state = StandaloneCluster(_cluster_dir(_settings()), workers=workers, cores=cores, memory=memory).start()
    except ClusterError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    share = max(1, cores * workers // 2)
    console.print(f"master {state.master_url}  (web UI {state.master_ui}; logs in {state.work_dir})\n"
                  f"export CARELAKE_SPARK_MASTER={state.master_url}\n"
                  # dbt runs as an application next to the pipeline's; without a cap the first takes every core
                  f"export CARELAKE_SPARK_CONF='{{\"spark.cores.max\": \"{share}\"}}'")


@cluster_app.command("status")
def cluster_status():
    """The master URL and its workers and applications (exit 1 if no cluster runs)."""
    from carelake.cluster import ClusterState, master_status

    state = ClusterState.load(_cluster_dir(_settings()))
    status = master_status(state.master_ui) if state else None
    if status is None:
        console.print("no cluster running")
        raise typer.Exit(1)
    workers = [f"{w['host']} {w['cores']} cores {w['state']}" for w in status.get("workers", [])]
    console.print(f"master {state.master_url}: workers {workers}; running applications "
                  f"{[a['name'] for a in status.get('activeapps', [])]}")


@cluster_app.command("stop")
def cluster_stop():
    """Stop the master and workers started by `carelake cluster start` (by process group)."""
    from carelake.cluster import ClusterState, StandaloneCluster

    directory = _cluster_dir(_settings())
    running = ClusterState.load(directory) is not None
    StandaloneCluster(directory).stop()
    console.print("stopped" if running else "no cluster running")


# --- governance: classification, role views, audited queries, audit chain, lifecycle, erasure (issue #6) ---
views_app = typer.Typer(help="Role-based masked views (metadata/privacy/roles.yml).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained access audit (audit.access_log).", no_args_is_help=True)
lifecycle_app = typer.Typer(help="Retention, archive and VACUUM per table (metadata/lifecycle.yml).", no_args_is_help=True)
app.add_typer(views_app, name="views")
app.add_typer(audit_app, name="audit")
app.add_typer(lifecycle_app, name="lifecycle")


@app.command()
def classify(check: bool = typer.Option(False, "--check", help="Only check; exit 1 naming every unclassified column.")):
    """List every silver and gold column with its category and level (metadata/classification.yml); store them."""
    from carelake.access.classification import classify_catalogue, store, unclassified

    settings = _settings()
    spark = _spark(settings)
    results = classify_catalogue(spark, settings)
    missing = unclassified(results)
    if not check:
        table = Table(title="column classification")
        for col in ("table", "column", "category", "level", "rule"):
            table.add_column(col)
        for r in results:
            table.add_row(r.table, r.column, r.category or "[red]UNCLASSIFIED[/]", str(r.level or ""), r.rule or "")
        console.print(table)
        if not missing:
            console.print(f"stored {store(spark, settings, results)} rows in governance.column_classification")
    for name in missing:
        err.print(f"[red]unclassified[/] {name}")
    console.print(f"{len(results) - len(missing)} of {len(results)} columns classified")
    if missing:
        raise typer.Exit(1)


@views_app.command("build")
def views_build():
    """(Re)create the masked views of every role: <layer>_<role>.<table>."""
    from carelake.access.roles import RolePolicyError, build_views

    settings = _settings()
    try:
        built = build_views(_spark(settings), settings)
    except RolePolicyError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(built.summary())


@app.command()
def query(
    sql: str = typer.Argument(..., help="One read-only statement naming tables by layer, e.g. 'select count(*) from gold.person'."),
    role: str = typer.Option(..., "--role", help="Your role (metadata/privacy/roles.yml)."),
    user: str = typer.Option(..., "--user", help="Who asks (recorded in the audit log)."),
    purpose: str = typer.Option(..., "--purpose", help="Why (recorded in the audit log)."),
    limit: int = typer.Option(100, help="Rows returned at most."),
):
    """Run a query through the role's masked views; the access is recorded in audit.access_log."""
    from carelake.access import AccessDenied, query as run_query

    settings = _settings()
    try:
        columns, rows = run_query(_spark(settings), settings, sql, role=role, user=user, purpose=purpose, limit=limit)
    except AccessDenied as exc:
        err.print(f"[red]access denied[/red] {exc}")
        raise typer.Exit(3) from None
    table = Table()
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
    console.print(f"{len(rows)} rows")


@audit_app.command("verify")
def audit_verify():
    """Recompute the audit hash chain; exit 1 naming the first edited, deleted or reordered record."""
    from carelake.access import verify_chain

    result = verify_chain(_spark(_settings()))
    (console if result.ok else err).print(result.summary())
    if not result.ok:
        raise typer.Exit(1)


@lifecycle_app.command("run")
def lifecycle_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be archived or deleted; change nothing."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Reference date YYYY-MM-DD (default: today, UTC)."),
):
    """Archive cold rows, delete expired rows, VACUUM; one summary line per table."""
    from datetime import date

    from carelake.lifecycle import run_lifecycle

    settings = _settings()
    outcomes = run_lifecycle(_spark(settings), settings, as_of=date.fromisoformat(as_of) if as_of else None,
                             dry_run=dry_run)
    for outcome in outcomes:
        console.print(outcome.line())
    console.print(("dry run: nothing changed; " if dry_run else "") + f"{len(outcomes)} tables")


@app.command()
def housekeeping(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show files per table and what would be compacted; change nothing."),
    table: list[str] = typer.Option(None, "--table", "-t", help="Only these tables (db.table, repeatable)."),
):
    """Keep files per Delta table bounded (metadata/lifecycle.yml housekeeping:): set auto compaction, OPTIMIZE tables
    over their file threshold; prints files per table before -> after. VACUUM stays with `carelake lifecycle run`."""
    from carelake.lifecycle import run_housekeeping
    from carelake.lifecycle.housekeeping import summary

    settings = _settings()
    outcomes = run_housekeeping(_spark(settings), settings, dry_run=dry_run, tables=table or None)
    for outcome in outcomes:
        console.print(outcome.line(dry_run), markup=False, highlight=False)
    console.print(summary(outcomes, dry_run))


@app.command()
def erase(
    person: str = typer.Option(..., "--person", help="person_id, or source_id:patient_source_id."),
    reason: str = typer.Option(..., "--reason", help="Why (e.g. the request's reference); recorded in the audit log."),
    requested_by: str = typer.Option("governance_officer", "--by", help="Who carries it out (audit log)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count the person's rows per table; delete nothing."),
):
    """Erase one person from bronze, silver, gold, quality and the archive; vacuum; record it (keyed reference only)."""
    from carelake.lifecycle import PersonNotFound, erase_person

    settings = _settings()
    try:
        result = erase_person(_spark(settings), settings, person, reason, requested_by=requested_by, dry_run=dry_run)
    except PersonNotFound as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(result.summary())




# --- operations: backup and restore (issue #11) ---
@app.command()
def backup(
    kind: str = typer.Option("auto", "--kind", help="full, incremental, or auto (the policy in metadata/lifecycle.yml)."),
    list_only: bool = typer.Option(False, "--list", help="List the finished backups; take none."),
    verify: Optional[str] = typer.Option(None, "--verify", help="Check a backup's files and checksums (an id, or 'latest')."),
):
    """Back up the whole lake (Delta files and logs, other lake files, the catalog) to the backup location."""
    from carelake.backup import backups_in, load_backup_policy, take_recorded_backup, verify_backup

    settings = _settings()
    policy = load_backup_policy(settings)
    if list_only:
        for manifest in backups_in(policy.location):
            console.print(manifest.summary())
        return
    if verify:
        bad = verify_backup(policy.location, None if verify == "latest" else verify)
        for line in bad:
            err.print(f"[red]{line}[/red]")
        console.print(f"{len(bad)} bad files" if bad else "backup sound: every file present with its checksum")
        raise typer.Exit(1 if bad else 0)
    try:
        manifest = take_recorded_backup(_spark(settings), settings, kind=kind, policy=policy)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(manifest.summary())
    console.print(f"at {policy.location / manifest.backup_id}")


@app.command()
def restore(
    to: Optional[Path] = typer.Option(None, "--to", help="Lake root to restore into (empty or new; default: the lake's)."),
    backup_id: Optional[str] = typer.Option(None, "--backup", help="Backup id (default: the newest)."),
    location: Optional[Path] = typer.Option(None, "--from", help="Backup location (default: metadata/lifecycle.yml)."),
):
    """Restore a backup into an empty lake root: files with checksums, the catalog, row counts verified."""
    from carelake.backup import RestoreError, restore_lake

    settings = _settings()
    if to is not None:
        settings = settings.with_(lake_root=to.expanduser().resolve())
    try:
        report = restore_lake(settings, backups=location, backup_id=backup_id)
    except RestoreError as exc:
        err.print(f"[red]restore failed[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(report.summary())
    if report.problems:
        raise typer.Exit(1)


# --- privacy: PII detection (issue #6) ---
pii_app = typer.Typer(help="Find personal data in silver (Presidio; metadata/privacy/deidentification.yml).", no_args_is_help=True)
app.add_typer(pii_app, name="pii")


@pii_app.command("scan")
def pii_scan(table: list[str] = typer.Option(None, "--table", "-t", help="Only this silver table (repeatable).")):
    """Scan free text in full and sample every other string column; store privacy.pii_findings; print undeclared PII."""
    from carelake.privacy.scan import scan_lake

    settings = _settings()
    result = scan_lake(settings, _spark(settings), tables=table or None)
    console.print(result.summary())


# --- metadata: dictionary check, lineage, catalogue (issue #7) ---
metadata_app = typer.Typer(help="Data dictionary and data map (metadata/dictionary, metadata/data_map.yml).",
                           no_args_is_help=True)
app.add_typer(metadata_app, name="metadata")


@metadata_app.command("check")
def metadata_check():
    """Dictionary, data map and master-data registry vs the live catalog; exit 1 on undocumented columns or drift."""
    from carelake.metadata.check import check
    from carelake.metadata.dictionary import DictionaryError

    settings = _settings()
    try:
        report = check(_spark(settings), settings)
    except DictionaryError as exc:
        err.print(f"[red]dictionary error[/red] {exc}")
        raise typer.Exit(2) from None
    (console if report.ok else err).print(report.summary(), markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def lineage(column: str = typer.Argument(..., help="<layer>.<table>.<column>, e.g. gold.person.year_of_birth")):
    """Where a column comes from: upstream columns down to bronze, and the source files (ingest ledger)."""
    from carelake.metadata.lineage import LineageError, column_lineage

    settings = _settings()
    try:
        result = column_lineage(_spark(settings), settings, column)
    except LineageError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(result.summary(), markup=False, highlight=False)


@app.command()
def catalogue(out: Optional[Path] = typer.Option(None, "--out", help="Folder (default <lake>/_catalogue)."),
              no_lineage: bool = typer.Option(False, "--no-lineage", help="Skip per-column lineage (faster)."),
              dbt_docs: bool = typer.Option(False, "--dbt-docs", help="Also run `dbt docs generate --static` into DIR/dbt.")):
    """Write the static HTML catalogue: domains, tables, columns, classification, quality, lineage."""
    from carelake.metadata.catalogue import build_catalogue

    settings = _settings()
    console.print(build_catalogue(_spark(settings), settings, out_dir=out, with_lineage=not no_lineage,
                                  with_dbt_docs=dbt_docs).summary())




def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
