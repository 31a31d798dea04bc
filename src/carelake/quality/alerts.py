"""Alerts: a breached quality threshold or an anomaly raises one row in ``quality.alerts``, and notifies.

* ``threshold`` alerts: every ``quality.scores`` row of the run with ``breached`` (per source × dimension ×
  day or month). Severity = the most severe severity among the failed rules behind it in ``quality.results``
  (``major`` when none is recorded).
* ``anomaly`` alerts: every ``quality.anomalies`` row (the metric's severity from ``anomaly.yml``).

``alert_id`` is a hash of kind, source, dimension / table / metric and date, so a rerun raises nothing new:
alerts are MERGEd (insert when new), and only new alerts go to the notification hooks. ``NOTIFIERS`` holds
callables ``notify(alerts: list[dict], settings)``; by default the log and a JSON-lines file
``<lake>/_alerts/alerts.jsonl`` (an Airflow failure callback can append its own).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from carelake.quality.scores import ALL_SOURCES
from carelake.quality.tables import ALERTS, ANOMALIES, RESULTS, SCORES

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
SEVERITY_ORDER = ("critical", "major", "minor")


def alert_id(kind: str, source_id: str, subject: str, data_date) -> str:
    """Deterministic: the same breach or anomaly always gets the same id."""
    return hashlib.sha256(f"{kind}|{source_id}|{subject}|{data_date}".encode()).hexdigest()[:24]


def log_alerts(alerts: list[dict], settings) -> None:
    for a in alerts:
        log.warning("quality alert [%s/%s] %s %s: %s", a["kind"], a["severity"], a["source_id"], a["data_date"], a["message"])


def write_alert_lines(alerts: list[dict], settings) -> None:
    folder = settings.lake_root / "_alerts"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "alerts.jsonl").open("a", encoding="utf-8") as out:
        for a in alerts:
            out.write(json.dumps(a, default=str, ensure_ascii=False) + "\n")


NOTIFIERS: list[Callable[[list[dict], object], None]] = [log_alerts, write_alert_lines]


def _worst(severities) -> str:
    present = [s for s in severities if s in SEVERITY_ORDER]
    return min(present, key=SEVERITY_ORDER.index) if present else "major"


def threshold_alerts(spark, run_id: str) -> pd.DataFrame:
    """Breached scores of the run (source grain) with the worst severity of their failed rules."""
    from pyspark.sql import functions as F

    scores = spark.table(SCORES).where((F.col("run_id") == run_id) & F.col("breached") & (F.col("source_id") != ALL_SOURCES)).toPandas()
    if scores.empty:
        return scores
    failed = (spark.table(RESULTS).where((F.col("run_id") == run_id) & (F.col("status") == "failed") & (F.col("level") != "anomaly"))
              .select("source_id", "dimension", "data_date", "severity").distinct().toPandas())
    per_day = failed.groupby(["source_id", "dimension", "data_date"])["severity"].agg(_worst).to_dict()
    failed["month"] = failed["data_date"].map(lambda d: d.replace(day=1) if d is not None else None)
    per_month = failed.groupby(["source_id", "dimension", "month"])["severity"].agg(_worst).to_dict()
    rows = []
    for s in scores.itertuples():
        lookup = per_day if s.period_type == "day" else per_month
        subject = f"{s.dimension}|score:{s.period_type}"
        rows.append({"alert_id": alert_id("threshold", s.source_id, subject, s.period_start), "kind": "threshold",
                     "severity": lookup.get((s.source_id, s.dimension, s.period_start), "major"),
                     "source_id": s.source_id, "organization": s.organization, "dimension": s.dimension, "table_name": None,
                     "metric": f"score:{s.period_type}", "data_date": s.period_start, "observed": s.score, "expected": s.threshold,
                     "message": f"{s.dimension} score {s.score:.1f} below threshold {s.threshold:.1f} for {s.source_id} "
                                f"({s.period_type} {s.period_start})"})
    import pandas as pd

    return pd.DataFrame(rows)


def anomaly_alerts(spark, organizations: dict[str, str], config) -> pd.DataFrame:
    """One alert per anomalous (source, table, metric, date); several windows flagging it keep the strongest."""
    import pandas as pd

    anomalies = spark.table(ANOMALIES).toPandas()
    if anomalies.empty:
        return anomalies
    anomalies = anomalies.loc[anomalies["score"].abs().groupby([anomalies[c] for c in ("source_id", "table_name", "metric", "data_date")]).idxmax()]
    rows = []
    for a in anomalies.itertuples():
        spec = config.family(a.metric) or {}
        dimension = spec.get("dimension") or a.metric.split(":", 1)[-1]
        subject = f"{dimension}|{a.table_name}|{a.metric}"
        rows.append({"alert_id": alert_id("anomaly", a.source_id, subject, a.data_date), "kind": "anomaly",
                     "severity": spec.get("severity", "major"), "source_id": a.source_id,
                     "organization": organizations.get(a.source_id, a.source_id), "dimension": dimension,
                     "table_name": a.table_name, "metric": a.metric, "data_date": a.data_date, "observed": a.value,
                     "expected": a.expected,
                     "message": f"{a.metric} of {a.table_name} for {a.source_id}: {a.value:g} vs expected {a.expected:g} "
                                f"({a.direction}, z = {a.score:.1f}, {a.method}) on {a.data_date}"})
    return pd.DataFrame(rows)


@dataclass
class AlertSummary:
    run_id: str
    candidates: int
    new: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        return f"alerts: {self.candidates} breaches/anomalies, {len(self.new)} new alerts"


def raise_alerts(spark, run, settings=None) -> AlertSummary:
    """The ``after_validation`` hook: threshold breaches and anomalies → ``quality.alerts`` (new ones only) → notifiers."""
    import pandas as pd
    from delta.tables import DeltaTable

    from carelake.config import load_settings
    from carelake.quality.anomaly import _organizations, load_config
    from carelake.quality.tables import ensure_tables, schema_of

    settings = settings or getattr(run, "settings", None) or load_settings()
    ensure_tables(spark)
    candidates = [f for f in (threshold_alerts(spark, run.run_id), anomaly_alerts(spark, _organizations(), load_config())) if not f.empty]
    if not candidates:
        return AlertSummary(run.run_id, 0)
    alerts = pd.concat(candidates, ignore_index=True).drop_duplicates("alert_id")
    existing = {r["alert_id"] for r in spark.table(ALERTS).select("alert_id").collect()}
    new = alerts[~alerts["alert_id"].isin(existing)].assign(run_id=run.run_id,
                                                             raised_at=getattr(run, "run_at", None) or datetime.now(timezone.utc).replace(tzinfo=None))
    if not new.empty:
        schema = schema_of(ALERTS)
        frame = spark.createDataFrame(new[[f.name for f in schema.fields]], schema=schema)
        (DeltaTable.forName(spark, ALERTS).alias("t").merge(frame.alias("s"), "t.alert_id = s.alert_id")
         .whenNotMatchedInsertAll().execute())
    records = new.to_dict("records")
    for notify in NOTIFIERS:
        if records:
            notify(records, settings)
    return AlertSummary(run.run_id, len(alerts), records)
