"""The monthly quality report: one self-contained HTML file a governance officer can open and forward.

    carelake report --month 2026-10 [--out PATH]      # default <lake>/_reports/quality-2026-10.html

Every number comes from the quality tables (``quality.scores``, ``results``, ``failed_rows``, ``anomalies``,
``alerts``) and the ingest ledger; the month before is the comparison. Sections: scorecard (hospital ×
dimension heat map and table), trends (daily scores over both months, month over month), the 5+3+2 summary,
top failing rules with masked example rows, timeliness per source, anomalies, alerts, what changed since last
month, and a link to the GX Data Docs for the detail. Charts are plotly figures with plotly.js embedded once
(no CDN), styles inline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from carelake.operations.runs import recorded
from carelake.quality.metrics import ALL_TABLES
from carelake.quality.scores import ALL_SOURCES
from carelake.quality.tables import ALERTS, ANOMALIES, DAILY_METRICS, FAILED_ROWS, RESULTS, SCORES

if TYPE_CHECKING:
    import pandas as pd

DIMENSIONS = ("completeness", "accuracy", "consistency", "timeliness", "uniqueness")
LEVELS = ("source", "rule", "anomaly")
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2}
TOP_RULES = 10
EXAMPLES_PER_RULE = 3
SECTIONS = ("scorecard", "trends", "model-532", "top-rules", "timeliness", "anomalies", "alerts", "changes", "data-docs")


@dataclass(frozen=True)
class Month:
    start: date

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            return cls(datetime.strptime(text, "%Y-%m").date())
        except ValueError:
            raise ValueError(f"month must look like 2026-10, got {text!r}") from None

    @property
    def end(self) -> date:
        return (self.start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    @property
    def previous(self) -> Month:
        return Month((self.start - timedelta(days=1)).replace(day=1))

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def sql_range(self, column: str = "data_date") -> str:
        return f"{column} BETWEEN DATE'{self.start}' AND DATE'{self.end}'"


def default_report_path(settings, month: Month) -> Path:
    return settings.lake_root / "_reports" / f"quality-{month.label}.html"


# ---- data from the quality tables ----------------------------------------------------------------------
def _latest_run(spark, month: Month) -> str | None:
    row = (spark.table(SCORES).where(f"period_type = 'month' AND period_start = DATE'{month.start}'")
           .orderBy("run_at", ascending=False).select("run_id").first())
    return row["run_id"] if row else None


def _organization_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per organization × dimension × period: the ``'*'`` rows when the run wrote them, else summed over its sources."""
    orgs = scores[scores["source_id"] == ALL_SOURCES]
    if not orgs.empty:
        return orgs
    sums = scores.groupby(["organization", "dimension", "period_type", "period_start"], as_index=False)[
        ["element_count", "unexpected_count"]].sum()
    thresholds = scores.groupby(["organization", "dimension", "period_type", "period_start"])["threshold"].max().values
    score = 100.0 * (1 - sums["unexpected_count"] / sums["element_count"].where(sums["element_count"] > 0))
    return sums.assign(source_id=ALL_SOURCES, score=score, threshold=thresholds, breached=score < thresholds)


@dataclass
class ReportData:
    month: Month
    run_id: str | None
    scores: pd.DataFrame  # organization grain, month + day periods of this and the previous month
    source_scores: pd.DataFrame  # source grain, month periods of both months
    results: pd.DataFrame  # the run's results of both months
    failed_rows: pd.DataFrame
    anomalies: pd.DataFrame
    alerts: pd.DataFrame
    volumes: pd.DataFrame  # row_count per source (table '*') per day, both months
    deliveries: pd.DataFrame  # per source: days delivered, last extract date, files, failed files
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None))


def collect(spark, month: Month) -> ReportData:
    """Everything the report shows, read once from the quality tables (small aggregates only)."""
    from pyspark.sql import functions as F

    from carelake.quality.tables import ensure_tables

    ensure_tables(spark)
    both = Month(month.previous.start)
    both_range = f"BETWEEN DATE'{both.start}' AND DATE'{month.end}'"
    run_id = _latest_run(spark, month)
    if run_id is None:
        raise LookupError(f"no quality scores for {month.label}: run `carelake validate` first")
    scores = spark.table(SCORES).where((F.col("run_id") == run_id) & F.expr(f"period_start {both_range}")).toPandas()
    results = spark.table(RESULTS).where((F.col("run_id") == run_id) & F.expr(f"data_date {both_range}")).toPandas()
    failed_rows = (spark.table(FAILED_ROWS).where((F.col("run_id") == run_id) & F.expr(month.sql_range())).toPandas())
    ledger = (spark.table("bronze.ingest_ledger").where(F.expr(f"to_date(extract_date) {both_range}"))
              .groupBy("source_id").agg(
                  F.countDistinct(F.when(F.expr(month.sql_range("to_date(extract_date)")), F.col("extract_date"))).alias("days_delivered"),
                  F.max("extract_date").alias("last_extract"),
                  F.sum(F.when(F.expr(month.sql_range("to_date(extract_date)")), 1).otherwise(0)).alias("files"),
                  F.sum(F.when(F.expr(month.sql_range("to_date(extract_date)")) & (F.col("status") == "failed"), 1).otherwise(0)).alias("failed_files"),
                  F.sum(F.when(F.expr(month.sql_range("to_date(extract_date)")), F.col("rows_read")).otherwise(0)).alias("records"))
              .toPandas())
    return ReportData(
        month=month, run_id=run_id,
        scores=_organization_scores(scores),
        source_scores=scores[(scores["source_id"] != ALL_SOURCES) & (scores["period_type"] == "month")],
        results=results, failed_rows=failed_rows,
        anomalies=spark.table(ANOMALIES).where(F.expr(month.sql_range())).toPandas(),
        alerts=spark.table(ALERTS).where(F.expr(month.sql_range())).toPandas(),
        volumes=spark.table(DAILY_METRICS).where(F.expr(f"metric = 'row_count' AND table_name = '*' AND data_date {both_range}")).toPandas(),
        deliveries=ledger)


# ---- tables shown ---------------------------------------------------------------------------------------
def scorecard(data: ReportData) -> pd.DataFrame:
    """Organization × dimension month scores (rows = organizations), the numbers of ``quality.scores``."""
    month = data.scores[(data.scores["period_type"] == "month") & (data.scores["period_start"] == data.month.start)]
    return month.pivot_table(index="organization", columns="dimension", values="score", aggfunc="first").reindex(
        columns=[d for d in DIMENSIONS if d in set(month["dimension"])])


def thresholds(data: ReportData) -> dict[str, float]:
    return data.scores.groupby("dimension")["threshold"].max().to_dict()


def score_changes(data: ReportData) -> pd.DataFrame:
    monthly = data.scores[data.scores["period_type"] == "month"]
    now = monthly[monthly["period_start"] == data.month.start].set_index(["organization", "dimension"])["score"]
    before = monthly[monthly["period_start"] == data.month.previous.start].set_index(["organization", "dimension"])["score"]
    changes = now.to_frame("score").join(before.rename("previous"), how="left")
    changes["delta"] = changes["score"] - changes["previous"]
    return changes.reset_index().sort_values("delta", key=lambda s: s.fillna(0))


def _month_results(data: ReportData, month: Month) -> pd.DataFrame:
    r = data.results
    return r[(r["data_date"] >= month.start) & (r["data_date"] <= month.end)]


def top_failing_rules(data: ReportData) -> pd.DataFrame:
    r = _month_results(data, data.month)
    r = r[(r["level"] != "anomaly") & (r["unexpected_count"] > 0)]
    if r.empty:
        return r.assign(sources="", failed_days=0)
    grouped = r.groupby(["rule_id", "dimension", "severity", "table_name"], as_index=False, dropna=False).agg(
        unexpected=("unexpected_count", "sum"), checked=("element_count", "sum"),
        failed_days=("status", lambda s: int((s == "failed").sum())),
        sources=("source_id", lambda s: ", ".join(sorted(set(s.dropna())))))
    grouped["percent"] = 100.0 * grouped["unexpected"] / grouped["checked"].where(grouped["checked"] > 0)
    return grouped.sort_values(["unexpected", "rule_id"], ascending=[False, True]).head(TOP_RULES)


def examples(data: ReportData, rule_id: str) -> list[dict]:
    rows = data.failed_rows[data.failed_rows["rule_id"] == rule_id].sort_values(["data_date", "source_id", "row_number"]).head(EXAMPLES_PER_RULE)
    out = []
    for r in rows.itertuples():
        try:
            values = json.loads(r.masked_values) if r.masked_values else {}
        except (TypeError, ValueError):
            values = {"value": r.masked_values}
        out.append({"source_id": r.source_id, "data_date": r.data_date, "record_id": r.record_id,
                    "where": f"{r.source_file}:{r.row_number}" if r.source_file else "", "values": values})
    return out


def new_failing_rules(data: ReportData) -> list[str]:
    def failing(month: Month) -> set[str]:
        r = _month_results(data, month)
        return set(r[(r["status"] == "failed") & (r["level"] != "anomaly")]["rule_id"])
    return sorted(failing(data.month) - failing(data.month.previous))


def level_summary(data: ReportData) -> list[dict]:
    r = _month_results(data, data.month)
    out = []
    for level in LEVELS:
        rows = r[r["level"] == level]
        out.append({"level": level, "checks": len(rows), "failed": int((rows["status"] == "failed").sum()),
                    "with_failed_rows": int((rows["status"] == "passed_with_failed_rows").sum()),
                    "elements": int(rows["element_count"].sum()), "unexpected": int(rows["unexpected_count"].sum())})
    return out


def dimension_summary(data: ReportData, card: pd.DataFrame) -> list[dict]:
    month = data.scores[(data.scores["period_type"] == "month") & (data.scores["period_start"] == data.month.start)]
    limits = thresholds(data)
    out = []
    for dimension in card.columns:
        rows = month[month["dimension"] == dimension]
        elements, unexpected = rows["element_count"].sum(), rows["unexpected_count"].sum()
        out.append({"dimension": dimension, "score": 100.0 * (1 - unexpected / elements) if elements else None,
                    "threshold": limits.get(dimension), "breached": int(rows["breached"].sum()), "organizations": len(rows)})
    return out


def timeliness(data: ReportData) -> pd.DataFrame:
    s = data.source_scores
    scores = s[(s["dimension"] == "timeliness") & (s["period_start"] == data.month.start)][["source_id", "organization", "score", "threshold", "breached"]]
    days = (data.month.end - data.month.start).days + 1
    deliveries = data.deliveries.assign(expected_days=days)
    return deliveries.merge(scores, on="source_id", how="left").sort_values("source_id")


# ---- charts -------------------------------------------------------------------------------------------
def _figure_html(figure, div_id: str) -> str:
    figure.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))  # facet titles: the value only
    figure.update_layout(margin={"l": 40, "r": 20, "t": 50, "b": 40}, template="plotly_white")
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True})


def charts(data: ReportData, card: pd.DataFrame) -> dict[str, str]:
    import plotly.express as px
    import plotly.graph_objects as go

    out = {}
    heat = go.Figure(go.Heatmap(z=card.values, x=list(card.columns), y=list(card.index), colorscale="RdYlGn", zmin=min(90.0, float(card.min().min())),
                                zmax=100, text=card.round(2).values, texttemplate="%{text}", hovertemplate="%{y} %{x}: %{z:.2f}<extra></extra>"))
    heat.update_layout(title=f"Quality score by hospital and dimension, {data.month.label}", height=120 + 60 * len(card.index))
    heat.update_yaxes(autorange="reversed")
    out["heatmap"] = _figure_html(heat, "chart-heatmap")

    daily = data.scores[data.scores["period_type"] == "day"].sort_values("period_start")
    if not daily.empty:
        trend = px.line(daily, x="period_start", y="score", color="organization", facet_col="dimension", facet_col_wrap=3,
                        category_orders={"dimension": list(DIMENSIONS)}, labels={"period_start": "day", "score": "score"},
                        title=f"Daily scores, {data.month.previous.label} and {data.month.label}")
        trend.update_layout(height=560)
        out["daily_trend"] = _figure_html(trend, "chart-daily-trend")
    monthly = data.scores[data.scores["period_type"] == "month"].assign(month=lambda f: f["period_start"].map(lambda d: d.strftime("%Y-%m")))
    mom = px.bar(monthly.sort_values(["month", "dimension"]), x="dimension", y="score", color="month", barmode="group", facet_col="organization",
                 category_orders={"dimension": list(DIMENSIONS)}, title="Month over month, per hospital")
    mom.update_yaxes(range=[max(0.0, float(monthly["score"].min()) - 2), 100])
    mom.update_layout(height=420)
    out["month_over_month"] = _figure_html(mom, "chart-month-over-month")

    if not data.volumes.empty:
        volumes = data.volumes.sort_values("data_date")
        volume = px.line(volumes, x="data_date", y="value", color="source_id", labels={"value": "records received", "data_date": "extract date"},
                         title="Records received per source per day (anomalies marked)")
        flagged = data.anomalies[(data.anomalies["metric"] == "row_count") & (data.anomalies["table_name"] == ALL_TABLES)]
        if not flagged.empty:
            points = flagged.merge(volumes, on=["source_id", "data_date"], suffixes=("", "_day"))
            volume.add_trace(go.Scatter(x=points["data_date"], y=points["value_day"], mode="markers", name="anomaly",
                                        marker={"symbol": "x", "size": 12, "color": "crimson"}))
        volume.update_layout(height=380)
        out["volumes"] = _figure_html(volume, "chart-volumes")
    return out


# ---- rendering ----------------------------------------------------------------------------------------
def render(data: ReportData, data_docs: Path | None = None) -> str:
    import jinja2
    import plotly.offline

    card = scorecard(data)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                                     autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    environment.filters["num"] = lambda v, digits=2: "–" if v is None or v != v else f"{v:,.{digits}f}"
    alerts = data.alerts.assign(rank=data.alerts["severity"].map(SEVERITY_RANK).fillna(len(SEVERITY_RANK))).sort_values(["rank", "data_date", "source_id"])
    rules = top_failing_rules(data)
    return environment.get_template("quality_report.html.j2").render(
        data=data, month=data.month, card=card, limits=thresholds(data), dimensions=list(card.columns),
        dimension_summary=dimension_summary(data, card), levels=level_summary(data),
        alert_counts=[{"kind": k, "severity": v, "count": n} for (k, v), n in data.alerts.groupby(["kind", "severity"]).size().items()],
        rules=[{**r, "examples": examples(data, r["rule_id"])} for r in rules.to_dict("records")],
        timeliness=timeliness(data).to_dict("records"), anomalies=data.anomalies.sort_values(["data_date", "source_id"]).to_dict("records"),
        alerts=alerts.to_dict("records"), changes=score_changes(data).to_dict("records"), new_rules=new_failing_rules(data),
        charts=charts(data, card), plotly_js=plotly.offline.get_plotlyjs(), sections=SECTIONS,
        data_docs=data_docs.as_uri() if data_docs else None)


@recorded("report")
def build_report(spark, settings, month: str, out: Path | None = None) -> Path:
    """Collect, render and write the month's report; returns its path."""
    chosen = Month.parse(month)
    data = collect(spark, chosen)
    docs = settings.lake_root / "_quality" / "data_docs" / "index.html"
    path = Path(out) if out else default_report_path(settings, chosen)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data, docs), encoding="utf-8")
    return path
