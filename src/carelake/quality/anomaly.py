"""The anomaly level: a robust baseline over the daily metric history flags sudden drops and jumps.

For every series of ``quality.daily_metrics`` (source × table × metric, one value per extract date) and
every window k of ``metadata/quality/anomaly.yml`` (1 day, 7 days), the value of the k days ending on a
date is compared with the k-day values of the ``baseline.days`` before that window: expected = median,
scale = 1.4826 × MAD, never below the Poisson noise √median of a count (or ``min_scale`` of a rate),
score = (value − expected) / scale. A score beyond ``robust_z.threshold`` in the metric's direction
(``drop`` for volumes, ``rise`` for null and failure rates) is an anomaly. With ``day_of_week`` the daily
window is compared with the same weekday only.

``detect(spark, run)`` (an ``after_validation`` hook) refreshes the metrics, writes ``quality.anomalies``
(MERGE: a rerun keeps the first detection and adds nothing) and the level ``anomaly`` rows of
``quality.results`` for the run (one per source × date × metric: series scored, series flagged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from carelake.quality.tables import ANOMALIES as ANOMALIES_TABLE

if TYPE_CHECKING:
    import pandas as pd


ANOMALY_KEY = ("source_id", "table_name", "metric", "data_date", "method")
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class AnomalyConfig:
    baseline_days: int
    min_days: int
    skip_first_days: int
    day_of_week: bool
    min_weeks: int
    threshold: float
    windows: tuple[int, ...]
    metrics: dict[str, dict]  # metric family -> direction, dimension, severity, min_* settings
    null_rate_columns: dict[str, list[str]]

    def family(self, metric: str) -> dict | None:
        return self.metrics.get(metric.split(":", 1)[0])


def load_config(path: Path | None = None) -> AnomalyConfig:
    import yaml

    from carelake.config import load_settings

    path = path or load_settings().metadata_dir / "quality" / "anomaly.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    baseline, robust = raw["baseline"], raw["robust_z"]
    columns = {entity: list(cols) for entity, cols in raw.get("null_rate_columns", {}).items() if entity != "reason"}
    return AnomalyConfig(baseline_days=int(baseline["days"]), min_days=int(baseline["min_days"]),
                         skip_first_days=int(baseline.get("skip_first_days", 0)), day_of_week=bool(baseline.get("day_of_week")),
                         min_weeks=int(baseline.get("min_weeks", 4)), threshold=float(robust["threshold"]),
                         windows=tuple(int(w) for w in robust["windows"]),
                         metrics={name: {k: v for k, v in spec.items() if k != "reason"} for name, spec in raw["metrics"].items()},
                         null_rate_columns=columns)


@dataclass(frozen=True)
class Score:
    index: int  # position of the window's last day in the series
    value: float
    expected: float
    scale: float

    @property
    def z(self) -> float:
        return (self.value - self.expected) / self.scale


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def robust_scores(values: list[float], window: int, config: AnomalyConfig, *, is_count: bool, min_scale: float = 0.0,
                  weekday_of_first: int | None = None) -> list[Score]:
    """Score each k-day window of consecutive daily ``values`` against the k-day windows of the baseline before it."""
    sums = [math.nan] * len(values)
    for end in range(config.skip_first_days + window - 1, len(values)):
        sums[end] = sum(values[end - window + 1:end + 1])
    same_weekday = config.day_of_week and window == 1 and weekday_of_first is not None
    scores = []
    for end in range(len(values)):
        if math.isnan(sums[end]):
            continue
        first = end - window - config.baseline_days + 1
        history = [sums[j] for j in range(max(first, 0), end - window + 1)
                   if not math.isnan(sums[j]) and (not same_weekday or (j - end) % 7 == 0)]
        days_covered = len(history) + window - 1 if history else 0
        if (same_weekday and len(history) < config.min_weeks) or (not same_weekday and days_covered < config.min_days):
            continue
        expected = _median(history)
        mad = _median([abs(h - expected) for h in history])
        floor = math.sqrt(max(expected, 1.0)) if is_count else min_scale
        scores.append(Score(end, sums[end], expected, max(MAD_TO_SIGMA * mad, floor, 1e-9)))
    return scores


def _flagged(score: Score, spec: dict, config: AnomalyConfig, window: int, rows: float | None) -> bool:
    if spec["direction"] == "drop":
        return score.z < -config.threshold and score.expected >= float(spec.get("min_expected_per_day", 0)) * window
    big_enough = score.value - score.expected >= float(spec.get("min_change", 0))
    return score.z > config.threshold and big_enough and (rows is None or rows >= float(spec.get("min_rows", 0)))


def _method(window: int, config: AnomalyConfig) -> str:
    return f"robust_z_{window}d" + ("_weekday" if config.day_of_week and window == 1 else "")


def score_history(metrics: pd.DataFrame, config: AnomalyConfig) -> pd.DataFrame:
    """Score every series of a daily-metrics frame; one row per (series, date, method) scored, ``flagged`` marks anomalies.

    Rates (``null_rate``, ``unexpected_rate``) are scored per day only, on days with enough rows
    (``row_count`` of the same table, ``checked_count`` of the same dimension).
    """
    import pandas as pd

    frame = metrics.copy()
    frame["data_date"] = pd.to_datetime(frame["data_date"])
    rows_of = _rows_lookup(frame)
    out = []
    for (source_id, table_name, metric), series in frame.groupby(["source_id", "table_name", "metric"]):
        spec = config.family(metric)
        if spec is None:
            continue
        series = series.set_index("data_date")["value"].sort_index()
        days = pd.date_range(series.index.min(), series.index.max(), freq="D")
        is_count = metric == "row_count"
        values = series.reindex(days, fill_value=0.0 if is_count else math.nan)
        for window in config.windows if is_count else (1,):
            known = values.dropna()  # rates: days without rows are skipped, the baseline is the previous days with data
            for score in robust_scores(list(known.values), window, config, is_count=is_count,
                                       min_scale=float(spec.get("min_scale", 0.0)), weekday_of_first=days[0].weekday()):
                day = known.index[score.index]
                rows = None if is_count else rows_of.get((source_id, table_name, metric, day))
                out.append({"source_id": source_id, "table_name": table_name, "metric": metric, "data_date": day.date(),
                            "value": score.value, "expected": score.expected,
                            "lower": score.expected - config.threshold * score.scale,
                            "upper": score.expected + config.threshold * score.scale,
                            "score": score.z, "method": _method(window, config),
                            "direction": spec["direction"], "dimension": spec.get("dimension") or metric.split(":", 1)[-1],
                            "severity": spec.get("severity", "major"), "flagged": _flagged(score, spec, config, window, rows)})
    return pd.DataFrame(out, columns=["source_id", "table_name", "metric", "data_date", "value", "expected", "lower", "upper",
                                      "score", "method", "direction", "dimension", "severity", "flagged"])


def _rows_lookup(frame: pd.DataFrame) -> dict[tuple, float]:
    """(source, table, rate metric, date) -> the number of rows the rate was computed over."""
    lookup = {}
    counts = frame[frame["metric"] == "row_count"].set_index(["source_id", "table_name", "data_date"])["value"].to_dict()
    checked = frame[frame["metric"].str.startswith("checked_count:")]
    checked_of = {(r.source_id, r.metric.split(":", 1)[1], r.data_date): r.value for r in checked.itertuples()}
    for r in frame[frame["metric"].str.contains("_rate:")].itertuples():
        family, detail = r.metric.split(":", 1)
        rows = counts.get((r.source_id, r.table_name, r.data_date)) if family == "null_rate" else checked_of.get((r.source_id, detail, r.data_date))
        lookup[(r.source_id, r.table_name, r.metric, r.data_date)] = rows
    return lookup


@dataclass
class DetectionSummary:
    run_id: str
    scored: int
    anomalies: pd.DataFrame  # the flagged rows of this detection

    def __str__(self) -> str:
        return f"anomaly level: {self.scored} series-days scored, {len(self.anomalies)} anomalies"


def _organizations() -> dict[str, str]:
    from carelake.registry import load_registry

    return {s.id: s.organization or s.id for s in load_registry().sources}


def anomaly_results(scored: pd.DataFrame, run_id: str, run_at: datetime, organizations: dict[str, str]) -> pd.DataFrame:
    """Level ``anomaly`` rows for ``quality.results``: per source × date × metric, series scored and flagged."""
    if scored.empty:
        return scored
    grouped = (scored.groupby(["source_id", "data_date", "metric", "dimension", "severity"], as_index=False)
               .agg(element_count=("flagged", "size"), unexpected_count=("flagged", "sum"),
                    worst=("score", lambda s: s.abs().max())))
    percent = 100.0 * grouped["unexpected_count"] / grouped["element_count"]
    return grouped.assign(
        run_id=run_id, run_at=run_at, level="anomaly", suite="anomaly", table_name="*",
        organization=grouped["source_id"].map(organizations), rule_id="anomaly." + grouped["metric"],
        expectation_type="robust_z_baseline", column_name=grouped["metric"].str.split(":").str[1],
        unexpected_count=grouped["unexpected_count"].astype("int64"), element_count=grouped["element_count"].astype("int64"),
        unexpected_percent=percent, observed_value="max |z| " + grouped["worst"].round(2).astype(str), threshold_percent=0.0,
        status=grouped["unexpected_count"].map(lambda n: "failed" if n else "passed"), success=grouped["unexpected_count"] == 0,
    ).drop(columns=["worst", "metric"])


def _write_results(spark, results: pd.DataFrame, run_id: str) -> None:
    from carelake.quality.tables import RESULTS, replace_rows, schema_of

    schema = schema_of(RESULTS)
    frame = spark.createDataFrame(results[[f.name for f in schema.fields]], schema=schema)
    replace_rows(spark, frame, RESULTS, f"run_id = '{run_id}' AND level = 'anomaly'")


def _write_anomalies(spark, flagged: pd.DataFrame, run_id: str, detected_at: datetime, scored_dates: tuple[date, date]) -> None:
    """MERGE: keep the first detection of an anomaly, update its numbers, drop ones no longer flagged in the scored range."""
    from delta.tables import DeltaTable

    from carelake.quality.tables import schema_of

    schema = schema_of(ANOMALIES_TABLE)
    rows = flagged.assign(run_id=run_id, detected_at=detected_at)
    frame = spark.createDataFrame(rows[[f.name for f in schema.fields]], schema=schema)
    condition = " AND ".join(f"t.{c} = s.{c}" for c in ANOMALY_KEY)
    in_range = f"t.data_date BETWEEN DATE'{scored_dates[0]}' AND DATE'{scored_dates[1]}'"
    (DeltaTable.forName(spark, ANOMALIES_TABLE).alias("t").merge(frame.alias("s"), condition)
     .whenMatchedUpdate(set={c: f"s.{c}" for c in ("value", "expected", "lower", "upper", "score")})
     .whenNotMatchedInsertAll().whenNotMatchedBySourceDelete(condition=in_range).execute())


def detect(spark, run, config: AnomalyConfig | None = None) -> DetectionSummary:
    """The ``after_validation`` hook: metrics → scores → ``quality.anomalies`` + level-anomaly results of the run."""
    from carelake.quality.metrics import refresh_daily_metrics
    from carelake.quality.tables import ensure_tables
    from carelake.registry import load_registry

    config = config or load_config()
    ensure_tables(spark)
    metrics = refresh_daily_metrics(spark, load_registry(), config.null_rate_columns, results_run_id=run.run_id)
    scored = score_history(metrics, config)
    run_at = getattr(run, "run_at", None) or datetime.now(timezone.utc).replace(tzinfo=None)
    flagged = scored[scored["flagged"]].reset_index(drop=True)
    if not scored.empty:
        _write_anomalies(spark, flagged, run.run_id, run_at, (scored["data_date"].min(), scored["data_date"].max()))
        _write_results(spark, anomaly_results(scored, run.run_id, run_at, _organizations()), run.run_id)
    return DetectionSummary(run.run_id, len(scored), flagged)


def load_anomalies(spark, month_start: date | None = None, month_end: date | None = None) -> pd.DataFrame:
    frame = spark.table(ANOMALIES_TABLE)
    if month_start is not None:
        frame = frame.where(f"data_date BETWEEN DATE'{month_start}' AND DATE'{month_end}'")
    return frame.toPandas()
