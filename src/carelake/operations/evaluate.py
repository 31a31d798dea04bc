"""Evaluate every indicator on the lake: its SQL (Spark) or named measure, then its red / amber / green status.

Values are kept as data: :func:`store_values` appends one timestamped row per indicator and source to the
Delta table ``ops.indicator_values`` (trends), and the dashboard writes them to ``dashboard.json``.
A query over a table that does not exist yet (e.g. no validation has run) gives "no data" with the reason;
any other failing query stops the evaluation naming the indicator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

from carelake.operations.indicators import Chart, Indicator, IndicatorCatalog
from carelake.operations.measures import MEASURES, MeasureContext
from carelake.operations.runs import DATABASE

VALUES_TABLE = f"{DATABASE}.indicator_values"
VALUES_DDL = ("evaluated_at timestamp, indicator_id string, source_id string, value double, status string, "
              "unit string, note string")
MISSING_TABLE_ERRORS = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND")
CONCURRENT_QUERIES = 4  # small queries: Spark overlaps their planning and Delta snapshot reads


class IndicatorEvaluationError(RuntimeError):
    """An indicator's formula failed on the lake (not merely: its table does not exist yet)."""


@dataclass(frozen=True)
class IndicatorValue:
    indicator: Indicator
    source_id: str | None  # None: the platform value (grain platform), or no source had data
    value: float | None  # None: no data
    note: str = ""  # why there is no data

    @property
    def status(self) -> str:
        return self.indicator.thresholds.status(self.value)


@dataclass
class ChartData:
    chart: Chart
    rows: list[dict] = field(default_factory=list)
    note: str = ""


@dataclass
class Evaluation:
    evaluated_at: datetime
    values: list[IndicatorValue]
    charts: list[ChartData]

    def status_counts(self) -> dict[str, int]:
        counts = {"green": 0, "amber": 0, "red": 0}
        for v in self.values:
            counts[v.status] += 1
        return counts


def _number(value) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _missing_table(exc: Exception) -> str | None:
    """The reason when ``exc`` says a table or database is missing, else None."""
    condition = getattr(exc, "getCondition", lambda: None)() or getattr(exc, "getErrorClass", lambda: None)()
    if condition in MISSING_TABLE_ERRORS:
        return str(exc).splitlines()[0][:300]
    return None


def _query(spark, sql: str, what: str) -> tuple[list[dict], str]:
    """Rows of ``sql`` as dicts, or ([], reason) when a table it reads does not exist."""
    try:
        return [r.asDict() for r in spark.sql(sql).collect()], ""
    except Exception as exc:
        reason = _missing_table(exc)
        if reason is None:
            raise IndicatorEvaluationError(f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0][:500]}") from exc
        return [], reason


def evaluate_indicator(indicator: Indicator, context: MeasureContext) -> list[IndicatorValue]:
    """The indicator's values: one (platform grain) or one per source (source grain)."""
    what = f"indicator {indicator.id}"
    if indicator.measure:
        try:
            return [IndicatorValue(indicator, None, _number(MEASURES[indicator.measure](context, **indicator.args)))]
        except (TypeError, ValueError) as exc:
            raise IndicatorEvaluationError(f"{what}: measure {indicator.measure}: {exc}") from exc
    rows, note = _query(context.spark, indicator.sql, what)
    expected = {"source_id", "value"} if indicator.grain == "source" else {"value"}
    if rows and not expected <= set(rows[0]):
        raise IndicatorEvaluationError(f"{what}: grain {indicator.grain} needs column(s) {', '.join(sorted(expected))}, "
                                       f"the query gives {', '.join(rows[0])}")
    if indicator.grain == "platform":
        if len(rows) > 1:
            raise IndicatorEvaluationError(f"{what}: grain platform needs one row, the query gives {len(rows)}")
        return [IndicatorValue(indicator, None, _number(rows[0]["value"]) if rows else None, note)]
    if not rows:
        return [IndicatorValue(indicator, None, None, note or "no source has data")]
    return [IndicatorValue(indicator, str(r["source_id"]), _number(r["value"]))
            for r in sorted(rows, key=lambda r: str(r["source_id"]))]


def evaluate(spark, settings, catalog: IndicatorCatalog) -> Evaluation:
    """Evaluate every indicator and chart query of the catalog on the lake."""
    from concurrent.futures import ThreadPoolExecutor

    context = MeasureContext(spark, settings)
    with ThreadPoolExecutor(max_workers=CONCURRENT_QUERIES, thread_name_prefix="indicator") as pool:
        per_indicator = list(pool.map(lambda indicator: evaluate_indicator(indicator, context), catalog.indicators))
        charts = list(pool.map(lambda chart: ChartData(chart, *_query(spark, chart.sql, f"chart {chart.id}")), catalog.charts))
    return Evaluation(context.now, [v for values in per_indicator for v in values], charts)


def store_values(spark, evaluation: Evaluation) -> None:
    """Append the evaluation to ``ops.indicator_values`` (one Delta append)."""
    from pyspark.sql.types import StructType

    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    spark.sql(f"CREATE TABLE IF NOT EXISTS {VALUES_TABLE} ({VALUES_DDL}) USING delta")
    at = evaluation.evaluated_at.replace(tzinfo=None)
    rows = [(at, v.indicator.id, v.source_id, v.value, v.status, v.indicator.unit, v.note or None) for v in evaluation.values]
    spark.createDataFrame(rows, StructType.fromDDL(VALUES_DDL)).write.format("delta").mode("append").saveAsTable(VALUES_TABLE)
