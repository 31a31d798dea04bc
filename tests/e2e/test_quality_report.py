"""The anomaly level, alerts and the monthly report on the demo lake (two months, one planted volume drop).

Uses the session's ``quality_run`` (validate on the gold demo lake; its after-validation hooks ran the
anomaly level and raised the alerts). Expectations come from the generator's manifest and the quality tables.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest

from carelake.quality.anomaly import load_config

pytestmark = pytest.mark.spark
REPORT_MONTH = "2026-10"
MAX_FALSE_POSITIVE_SHARE = 0.02  # of scored row_count (source, table, window) points outside the planted drop


@pytest.fixture(scope="module")
def planted(demo_extracts):
    """source -> the dates whose volume windows overlap the planted drop (from the truth manifest)."""
    manifest = json.loads((demo_extracts.truth_dir / "manifest.json").read_text(encoding="utf-8"))
    reach = max(load_config().windows) - 1
    out = {}
    for source_id, drop in manifest["arguments"]["volume_drops"].items():
        first = date.fromisoformat(drop["first_date"])
        assert sum(drop["dropped_records"].values()) > 0, "the planted drop removed nothing"
        out[source_id] = {first + timedelta(days=n) for n in range(drop["days"] + reach)}
    return out


def _rows(spark, sql: str) -> list:
    return spark.sql(sql).collect()


def test_planted_volume_drop_is_flagged(spark, quality_run, planted):
    anomalies = _rows(spark, "SELECT * FROM quality.anomalies WHERE metric = 'row_count'")
    for source_id, dates in planted.items():
        hits = [a for a in anomalies if a.source_id == source_id and a.data_date in dates]
        assert hits, f"planted drop of {source_id} not flagged"
        assert all(a.direction == "drop" and a.value < a.expected and a.value < a.lower for a in hits)
        assert any(a.table_name.endswith("__encounters") for a in hits), "the lost visits are not flagged"
    # the same points are level-anomaly results of the run
    failed = _rows(spark, f"SELECT source_id, data_date FROM quality.results WHERE run_id = '{quality_run.run_id}' "
                          "AND level = 'anomaly' AND rule_id = 'anomaly.row_count' AND unexpected_count > 0")
    assert {(r.source_id, r.data_date) for r in failed} >= {(a.source_id, a.data_date) for a in anomalies}


def test_ordinary_days_are_rarely_flagged(spark, quality_run, planted):
    scored = _rows(spark, f"SELECT source_id, data_date, element_count, unexpected_count FROM quality.results "
                          f"WHERE run_id = '{quality_run.run_id}' AND level = 'anomaly' AND rule_id = 'anomaly.row_count'")
    ordinary = [r for r in scored if r.data_date not in planted.get(r.source_id, ())]
    points = sum(r.element_count for r in ordinary)
    assert points > 1000, "too little history scored"
    assert sum(r.unexpected_count for r in ordinary) / points <= MAX_FALSE_POSITIVE_SHARE


def test_alerts_for_breaches_and_anomalies_and_a_rerun_adds_none(spark, settings, quality_run, planted):
    from carelake.quality.alerts import raise_alerts
    from carelake.quality.anomaly import detect

    alerts = _rows(spark, "SELECT * FROM quality.alerts")
    assert len({a.alert_id for a in alerts}) == len(alerts)
    breached = _rows(spark, f"SELECT DISTINCT source_id, dimension, period_type, period_start FROM quality.scores "
                            f"WHERE run_id = '{quality_run.run_id}' AND breached AND source_id <> '*'")
    threshold = {(a.source_id, a.dimension, a.metric, a.data_date) for a in alerts if a.kind == "threshold"}
    assert threshold >= {(b.source_id, b.dimension, f"score:{b.period_type}", b.period_start) for b in breached}
    anomalous = {(a.source_id, a.table_name, a.metric, a.data_date) for a in _rows(spark, "SELECT * FROM quality.anomalies")}
    assert {(a.source_id, a.table_name, a.metric, a.data_date) for a in alerts if a.kind == "anomaly"} >= anomalous
    assert all(a.severity in ("critical", "major", "minor") and a.message for a in alerts)
    assert any(a.kind == "anomaly" and a.source_id in planted for a in alerts)
    lines = (settings.lake_root / "_alerts" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["alert_id"] for line in lines) == sorted(a.alert_id for a in alerts)

    anomaly_count = spark.table("quality.anomalies").count()
    detect(spark, quality_run)
    summary = raise_alerts(spark, quality_run)
    assert summary.new == [] and 0 < summary.candidates <= len(alerts)
    assert spark.table("quality.alerts").count() == len(alerts)
    assert spark.table("quality.anomalies").count() == anomaly_count


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.texts: dict[int, str] = {}
        self._open: list[int] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "td":
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag):
        if tag == "td" and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            index = self._open[-1]
            self.texts[index] = self.texts.get(index, "") + data

    def find(self, tag: str | None = None, **attrs) -> list[tuple[int, dict]]:
        return [(i, a) for i, (t, a) in enumerate(self.elements)
                if (tag is None or t == tag) and all(k in a and (v is True or v in a[k].split() or a[k] == v) for k, v in attrs.items())]


@pytest.fixture(scope="module")
def rendered(spark, settings, quality_run, tmp_path_factory):
    """The October report written by the CLI, then loaded in headless Chromium (scripts run) and its DOM dumped."""
    from typer.testing import CliRunner

    from carelake.cli import app

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is not installed: run scripts/setup.sh (apt-get install chromium)")
    out = tmp_path_factory.mktemp("report") / f"quality-{REPORT_MONTH}.html"
    result = CliRunner().invoke(app, ["report", "--month", REPORT_MONTH, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000",
                          "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=180, check=True).stdout
    parsed = _Dom()
    parsed.feed(dom)
    return html, parsed


def test_report_is_self_contained(rendered):
    html, _ = rendered
    source = _Dom()
    source.feed(html)
    assert not source.find("script", src=True) and not source.find("link"), "the report loads something from outside"
    assert source.find("script") and source.find("style")  # plotly.js and the styles are inline
    assert any(a["href"].endswith("_quality/data_docs/index.html") for _, a in source.find("a", href=True))


def test_report_renders_all_sections_and_charts_in_a_browser(rendered):
    from carelake.quality.report import SECTIONS

    _, dom = rendered
    ids = {a.get("id") for _, a in dom.find("section")}
    assert set(SECTIONS) <= ids
    charts = dom.find("div", **{"class": "plotly-graph-div"})
    svgs = dom.find("svg", **{"class": "main-svg"})
    assert len(charts) >= 4 and len(svgs) >= len(charts), "plotly did not draw the charts"


def _month_scores(spark, run_id: str) -> dict[tuple[str, str], float]:
    rows = _rows(spark, f"SELECT source_id, organization, dimension, element_count, unexpected_count, score FROM quality.scores "
                        f"WHERE run_id = '{run_id}' AND period_type = 'month' AND period_start = DATE'{REPORT_MONTH}-01'")
    orgs = [r for r in rows if r.source_id == "*"]
    if orgs:
        return {(r.organization, r.dimension): r.score for r in orgs}
    totals: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        t = totals.setdefault((r.organization, r.dimension), [0, 0])
        t[0] += r.element_count
        t[1] += r.unexpected_count
    return {k: 100.0 * (1 - u / e) for k, (e, u) in totals.items() if e}


def test_scorecard_numbers_equal_quality_scores(spark, quality_run, rendered):
    _, dom = rendered
    cells = dom.find("td", **{"class": "score"})
    shown = {(a["data-organization"], a["data-dimension"]): (float(a["data-score"]), dom.texts[i].strip()) for i, a in cells}
    expected = _month_scores(spark, quality_run.run_id)
    assert set(shown) == set(expected) and len(expected) >= 4 * 5
    for key, score in expected.items():
        assert shown[key][0] == pytest.approx(score, abs=1e-6)
        assert shown[key][1] == f"{score:,.2f}"


def test_report_lists_rules_anomalies_and_changes(spark, quality_run, rendered, planted):
    _, dom = rendered
    failing = _rows(spark, f"SELECT DISTINCT rule_id FROM quality.results WHERE run_id = '{quality_run.run_id}' AND level <> 'anomaly' "
                           f"AND unexpected_count > 0 AND data_date BETWEEN DATE'{REPORT_MONTH}-01' AND DATE'{REPORT_MONTH}-31'")
    assert len(dom.find("tr", **{"data-rule": True})) == min(10, len(failing))
    october = [a for a in _rows(spark, f"SELECT * FROM quality.anomalies WHERE data_date BETWEEN DATE'{REPORT_MONTH}-01' AND DATE'{REPORT_MONTH}-31'")]
    assert len(dom.find("tr", **{"class": "anomaly"})) == len(october) > 0
    sources = {a.get("data-source") for _, a in dom.find("tr", **{"data-source": True})}
    assert set(planted) <= sources
