"""The operations dashboard: one self-contained HTML page (plotly.js and styles inline, no network) plus
``dashboard.json`` next to it with every value, and the values appended to ``ops.indicator_values``.

    carelake dashboard [--out PATH] [--serve PORT]      # default <lake>/_dashboard/index.html

Each indicator shows its value, its red / amber / green status and its definition (tooltip, and the
definitions table with formula, owner and thresholds). Indicators and charts are defined in
``metadata/operations/indicators.yml``.
"""

from __future__ import annotations

import json
from pathlib import Path

from carelake.operations.evaluate import Evaluation, IndicatorValue
from carelake.operations.indicators import Chart, IndicatorCatalog, load_indicators

DASHBOARD_DIR = "_dashboard"
JSON_NAME = "dashboard.json"
_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
_SUFFIX = {"%": " %", "hours": " h", "days": " d", "seconds": " s"}


def default_dashboard_path(settings) -> Path:
    return Path(settings.lake_root) / DASHBOARD_DIR / "index.html"


def format_value(value: float | None, unit: str, missing: str) -> str:
    """How a value reads on the page: thousands separators, bytes in KB/MB/GB, ``missing`` when there is none."""
    if value is None:
        return missing
    if unit == "bytes":
        size, step = float(value), 0
        while abs(size) >= 1000 and step < len(_BYTE_UNITS) - 1:
            size, step = size / 1000, step + 1
        return f"{size:,.0f} {_BYTE_UNITS[step]}" if step == 0 else f"{size:,.1f} {_BYTE_UNITS[step]}"
    digits = 0 if float(value).is_integer() and unit not in ("%", "score") else 2 if unit in ("%", "score") else 1
    return f"{value:,.{digits}f}{_SUFFIX.get(unit, '')}"


def threshold_text(value: IndicatorValue) -> str:
    t = value.indicator.thresholds
    sign = ">=" if t.direction == "higher_is_better" else "<="
    return f"green {sign} {t.green:g}, amber {sign} {t.amber:g}, else red"


def as_records(evaluation: Evaluation) -> list[dict]:
    """Every indicator value as plain data (``dashboard.json``)."""
    return [{"indicator_id": v.indicator.id, "name": v.indicator.name, "category": v.indicator.category,
             "source_id": v.source_id, "value": v.value, "display": format_value(v.value, v.indicator.unit, v.indicator.missing),
             "unit": v.indicator.unit, "status": v.status, "owner": v.indicator.owner, "grain": v.indicator.grain,
             "note": v.note or None} for v in evaluation.values]


def _chart_html(chart: Chart, rows: list[dict]) -> str:
    import pandas as pd
    import plotly.express as px

    frame = pd.DataFrame(rows)
    options = {"x": chart.x, "y": chart.y, "title": chart.title}
    if chart.color:
        options["color"] = chart.color
    if chart.kind == "line":
        figure = px.line(frame, markers=True, **options)
    else:
        figure = px.bar(frame, barmode="group" if chart.kind == "grouped_bar" else "relative", **options)
    figure.update_layout(margin={"l": 40, "r": 20, "t": 50, "b": 40}, template="plotly_white", height=380)
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{chart.id}",
                          config={"displaylogo": False, "responsive": True})


def render(catalog: IndicatorCatalog, evaluation: Evaluation, lake_root: Path) -> str:
    import jinja2
    import plotly.offline

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                                     autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    values: dict[str, list[IndicatorValue]] = {}
    for v in evaluation.values:
        values.setdefault(v.indicator.id, []).append(v)
    charts = [{"chart": c.chart, "html": _chart_html(c.chart, c.rows) if c.rows else None, "note": c.note or "no data yet"}
              for c in evaluation.charts]
    return environment.get_template("dashboard.html.j2").render(
        catalog=catalog, evaluation=evaluation, values=values, charts=charts, counts=evaluation.status_counts(),
        sources_of=lambda items: sorted({v.source_id for i in items for v in values[i.id] if v.source_id}),
        values_by_source=lambda indicator: {v.source_id: v for v in values[indicator.id]},
        display=lambda v: format_value(v.value, v.indicator.unit, v.indicator.missing), threshold_text=threshold_text,
        plotly_js=plotly.offline.get_plotlyjs(), lake_root=str(lake_root))


def build_dashboard(spark, settings, out: Path | None = None, store: bool = True) -> Path:
    """Evaluate every indicator, append the values to ``ops.indicator_values`` (``store``), write the HTML page and
    ``dashboard.json`` beside it; returns the page's path."""
    from carelake.operations.evaluate import evaluate, store_values

    catalog = load_indicators(settings)
    evaluation = evaluate(spark, settings, catalog)
    if store:
        store_values(spark, evaluation)
    path = Path(out) if out else default_dashboard_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(catalog, evaluation, settings.lake_root), encoding="utf-8")
    document = {"evaluated_at": evaluation.evaluated_at.isoformat(), "indicators_file": str(catalog.path),
                "status_counts": evaluation.status_counts(), "values": as_records(evaluation)}
    (path.parent / JSON_NAME).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
