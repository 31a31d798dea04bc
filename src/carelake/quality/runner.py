"""``validate``: run the suites on Spark, store every result, score, sample failing rows, build Data Docs.

Per checked table (cached once): ONE grouped aggregation gives every rule's element and unexpected counts
per source and extract date (what scores need), and ONE GX checkpoint run on the same cached DataFrame gives
the official per-table validation result and the Data Docs. ``ValidationRun.gx_counts`` and
``ValidationRun.grouped_counts`` let a test prove the two agree. Failing rows are sampled (masked) only for
rules with unexpected rows. Hooks in ``AFTER_VALIDATION`` run last with ``(spark, run)``.

A run is crash safe (:mod:`carelake.quality.run_markers`): runs on one lake are serialised by a lock, a run's
intent marker is written before its first table write and removed after its last, and a run that finds the
marker of a run that died deletes that run's rows first; so a killed run plus a rerun leaves what one clean
run leaves. Kill points: ``quality.after_results``, ``quality.before_hooks`` (:mod:`carelake.failpoints`).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from carelake.failpoints import failpoint
from carelake.operations.runs import StepOutcome, recorded
from carelake.quality import alerts, anomaly
from carelake.quality import tables as qt
from carelake.quality.checked_tables import IDENTIFIER_COLUMNS, build_checked_table
from carelake.quality.masking import mask_column
from carelake.quality.run_markers import mark_finished, mark_started, quality_lock, reconcile
from carelake.quality.suites import Suite, gx_suite, load_suites, unexpected_condition
from carelake.quality.thresholds import load_thresholds

# callables (spark, run) run after each validation (the anomaly level and alerts register here)
AFTER_VALIDATION: list = [anomaly.detect, alerts.raise_alerts]


@dataclass
class ValidationRun:
    run_id: str
    run_at: datetime
    tables: list[str]
    status_counts: dict[str, int] = field(default_factory=dict)
    failed_by_severity: dict[str, int] = field(default_factory=dict)  # failed results per severity
    critical_failures: list[str] = field(default_factory=list)  # "rule_id @ source_id" of failed critical rules
    gx_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # rule_id -> (element, unexpected), GX
    grouped_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # same, summed over groups
    gx_success: dict[str, bool] = field(default_factory=dict)  # suite -> GX validation success
    defective_records: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, dimension) -> records
    defect_keys: dict[tuple[str, str], set] = field(default_factory=dict, repr=False)  # -> {(file, row)}
    data_docs: Path | None = None

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.status_counts.items()))
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed_by_severity.items())) or "none"
        return (f"run {self.run_id}: {len(self.tables)} tables; results: {counts}; failed by severity: {failed}; "
                f"Data Docs: {self.data_docs / 'index.html'}")

    @property
    def gate_passed(self) -> bool:
        """The run's quality gate: no rule of severity ``critical`` failed its threshold."""
        return not self.critical_failures


def data_docs_dir(settings) -> Path:
    return settings.lake_root / "_quality" / "data_docs"


@recorded("quality", outcome=lambda run: StepOutcome(rows=sum(run.status_counts.values())))
def validate(settings, spark, *, run_id: str | None = None, tables: list[str] | None = None) -> ValidationRun:
    """Validate the checked tables (all suites, or ``tables``) and write quality.results/scores/failed_rows."""
    from carelake.registry import load_registry

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    thresholds = load_thresholds(settings)
    registry = load_registry(settings)
    organizations = {s.id: s.organization for s in registry.sources}
    suites = load_suites(settings, tables)
    run_at = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    run = ValidationRun(run_id or f"{run_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}", run_at, list(suites),
                        data_docs=data_docs_dir(settings))
    # crash safety (carelake.quality.run_markers): serialised per lake, unfinished runs undone, this run bracketed
    with quality_lock(settings):
        reconcile(spark, settings)
        mark_started(settings, run.run_id)
        _write_run(settings, spark, run, thresholds, registry, organizations, suites)
        mark_finished(settings, run.run_id)
    return run


def _write_run(settings, spark, run: ValidationRun, thresholds, registry, organizations: dict, suites: dict) -> None:
    """Validate every suite and write the run's rows to the quality tables, then run the hooks."""
    from carelake.quality.scores import score_rows
    from carelake.quality.source_level import source_results

    run_at = run.run_at
    gx_context = _gx_context(run.data_docs)
    context = {"thresholds": thresholds, "run_at": run_at}
    rows, samples = [], []
    for suite in suites.values():
        frame = build_checked_table(spark, suite.name, context).persist()
        try:
            groups = _grouped_counts(frame, suite)
            rows.extend(groups)
            _run_gx(gx_context, suite, frame, run)
            failing = {r["rule_id"] for r in groups if r["unexpected_count"]}
            if failing:
                samples.append(_failed_row_sample(frame, suite, failing, thresholds.failed_row_samples))
            _count_defective_records(frame, suite, thresholds, run)
        finally:
            frame.unpersist()
    for r in groups_totals(rows):
        run.grouped_counts[r[0]] = r[1]
    rows.extend(dict(r, level="source") for r in source_results(spark, registry, thresholds))
    results = _finish_results(rows, run, thresholds, organizations)
    where = f"run_id = '{run.run_id}'"
    qt.replace_rows(spark, spark.createDataFrame(results, qt.schema_of("results")), qt.RESULTS, where)
    failpoint("quality.after_results")  # results written; scores, failed rows, anomalies, alerts not
    qt.replace_rows(spark, spark.createDataFrame(score_rows(results, thresholds), qt.schema_of("scores")), qt.SCORES, where)
    _write_failed_rows(spark, samples, run, where)
    for result in results:
        run.status_counts[result["status"]] = run.status_counts.get(result["status"], 0) + 1
        if result["status"] == "failed":
            run.failed_by_severity[result["severity"]] = run.failed_by_severity.get(result["severity"], 0) + 1
    run.critical_failures = sorted({f"{r['rule_id']} @ {r['source_id']}" for r in results
                                    if r["status"] == "failed" and r["severity"] == "critical"})
    failpoint("quality.before_hooks")
    for hook in AFTER_VALIDATION:
        hook(spark, run)


def groups_totals(rows: list[dict]) -> list[tuple[str, tuple[int, int]]]:
    totals: dict[str, list[int]] = {}
    for r in rows:
        t = totals.setdefault(r["rule_id"], [0, 0])
        t[0] += r["element_count"]
        t[1] += r["unexpected_count"]
    return [(k, (v[0], v[1])) for k, v in totals.items()]


def _grouped_counts(frame, suite: Suite) -> list[dict]:
    """Every rule's (element, unexpected) per source and extract date, in one aggregation over the table."""
    from pyspark.sql import functions as F

    aggregates = [F.count(F.lit(1)).alias("_rows")]
    aggregates += [F.count_if(unexpected_condition(rule)).alias(f"_u{i}") for i, rule in enumerate(suite.rules)]
    rows = []
    for g in frame.groupBy("source_id", "data_date").agg(*aggregates).collect():
        for i, rule in enumerate(suite.rules):
            unexpected = g[f"_u{i}"]
            rows.append(dict(level="rule", suite=suite.name, table_name=suite.name, source_id=g.source_id,
                             data_date=g.data_date, dimension=rule.dimension, rule_id=rule.rule_id,
                             expectation_type=rule.expectation_type, column_name=rule.column_name,
                             severity=rule.severity, element_count=g["_rows"], unexpected_count=unexpected,
                             observed_value=f"{unexpected} of {g['_rows']} rows unexpected"))
    return rows


def _finish_results(rows: list[dict], run: ValidationRun, thresholds, organizations: dict) -> list[dict]:
    out = []
    for r in rows:
        element, unexpected = r["element_count"], r["unexpected_count"]
        percent = 100.0 * unexpected / element if element else 0.0
        limit = thresholds.max_unexpected_percent(r["rule_id"], r["dimension"])
        status = "passed" if unexpected == 0 else "passed_with_failed_rows" if percent <= limit else "failed"
        out.append({**r, "run_id": run.run_id, "run_at": run.run_at, "organization": organizations.get(r["source_id"]),
                    "severity": r.get("severity") or ("major" if r["level"] == "source" else None),
                    "unexpected_percent": percent, "threshold_percent": limit, "status": status,
                    "success": status != "failed"})
    return out


def _gx_context(docs_dir: Path):
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(site_name="carelake", site_config={
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    context.data_sources.add_spark(name="carelake")
    return context


def _run_gx(context, suite: Suite, frame, run: ValidationRun) -> None:
    """One checkpoint run of the suite on the cached table; records GX's counts in ``run``."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    source = context.data_sources.get("carelake")
    batch = source.add_dataframe_asset(name=suite.name).add_batch_definition_whole_dataframe(f"{suite.name}_whole")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}_validation", data=batch, suite=context.suites.add(gx_suite(suite))))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{suite.name}_checkpoint", validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="data_docs", site_names=["carelake"])], result_format={"result_format": "BASIC"}))
    result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=None)
    for validation in result.run_results.values():
        run.gx_success[suite.name] = bool(validation.success)
        for r in validation.results:
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(f"GX could not evaluate {r.expectation_config.meta.get('rule_id')}: "
                                   f"{r.exception_info.get('exception_message')}")
            run.gx_counts[r.expectation_config.meta["rule_id"]] = (int(r.result.get("element_count") or 0),
                                                                   int(r.result.get("unexpected_count") or 0))


def _failed_row_sample(frame, suite: Suite, failing: set[str], per_group: int):
    """Up to ``per_group`` failing rows per rule, source and day, identifiers masked (one pass over the table)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rules = [r for r in suite.rules if r.rule_id in failing]
    identifiers = [c for c in IDENTIFIER_COLUMNS if c in frame.columns]
    values = None
    for rule in rules:
        columns = list(dict.fromkeys(["record_id", *rule.columns, *identifiers]))
        payload = F.to_json(F.struct(*[mask_column(c).alias(c) for c in columns]))
        values = (F.when(F.col("rule_id") == rule.rule_id, payload) if values is None
                  else values.when(F.col("rule_id") == rule.rule_id, payload))
    hits = F.array(*[F.when(unexpected_condition(r), F.lit(r.rule_id)) for r in rules])
    order = Window.partitionBy("rule_id", "source_id", "data_date").orderBy("_source_file", "_row_number")
    return (frame.withColumn("rule_id", F.explode(F.filter(hits, lambda x: x.isNotNull())))
            .withColumn("_n", F.row_number().over(order)).where(F.col("_n") <= per_group)
            .select("rule_id", F.lit(suite.name).alias("table_name"), "source_id", "data_date", "record_id",
                    F.col("_source_file").alias("source_file"), F.col("_row_number").cast("bigint").alias("row_number"),
                    values.alias("masked_values"))
            .localCheckpoint())


def _write_failed_rows(spark, samples: list, run: ValidationRun, where: str) -> None:
    from functools import reduce

    from pyspark.sql import functions as F

    frame = reduce(lambda a, b: a.unionByName(b), samples) if samples else qt.empty_frame(spark, "failed_rows")
    frame = frame.withColumn("run_id", F.lit(run.run_id)).withColumn("run_at", F.lit(run.run_at).cast("timestamp"))
    qt.replace_rows(spark, frame, qt.FAILED_ROWS, where)


def _count_defective_records(frame, suite: Suite, thresholds, run: ValidationRun) -> None:
    """Records (source file + row: a CSV row, an NDJSON line, an HL7 message) failing a defect-rate rule
    (thresholds.yml ``defect_rates``), per source and dimension, kept as distinct record keys in ``run``."""
    from pyspark.sql import functions as F

    wanted = {rule_id: dimension for dimension, spec in thresholds.defect_rates.items() for rule_id in spec["rules"]}
    rules = [r for r in suite.rules if r.rule_id in wanted]
    if not rules:
        return
    hits = F.array(*[F.when(unexpected_condition(r), F.lit(wanted[r.rule_id])) for r in rules])
    keys = (frame.select("source_id", "_source_file", "_row_number", F.explode(F.filter(hits, lambda x: x.isNotNull())).alias("dimension"))
            .distinct().collect())
    for k in keys:
        run.defect_keys.setdefault((k.source_id, k.dimension), set()).add((k._source_file, k._row_number))
    run.defective_records = {key: len(v) for key, v in run.defect_keys.items()}
