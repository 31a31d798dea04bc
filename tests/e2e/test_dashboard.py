"""The operations dashboard on the session demo lake (after the quality run and one real backup): the page written by
`carelake dashboard` renders in headless Chromium without console errors, every indicator shows a value and a status,
and indicators of every kind equal queries of the lake written here independently."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark
REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "out" / "test-artifacts" / "dashboard.png"
# written into a copy of the page before anything else runs: console errors and uncaught errors land in the DOM
ERROR_HOOK = """<script>window.__errors = [];
function __keep(text) { window.__errors.push(String(text));
  document.addEventListener('DOMContentLoaded', function () { document.getElementById('console-errors').textContent = window.__errors.join('\\n'); });
  var box = document.getElementById('console-errors'); if (box) { box.textContent = window.__errors.join('\\n'); } }
window.addEventListener('error', function (e) { __keep('error: ' + e.message); });
window.addEventListener('unhandledrejection', function (e) { __keep('rejection: ' + e.reason); });
var __error = console.error; console.error = function () { __keep(Array.prototype.join.call(arguments, ' ')); __error.apply(console, arguments); };
</script>"""


class _Dom(HTMLParser):
    """The indicator value cells (attributes and text), the error box, plotly's drawn charts."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.errors = ""
        self.svgs = 0
        self.external: list[tuple[str, dict]] = []  # <script src>, <link>: anything loaded from elsewhere
        self._cell: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" or (tag == "script" and "src" in attrs):
            self.external.append((tag, attrs))
        if tag == "td" and "indicator-value" in (attrs.get("class") or "").split():
            self.rows.append({**attrs, "text": ""})
            self._cell = "value"
        elif tag == "pre" and attrs.get("id") == "console-errors":
            self._cell = "errors"
        elif tag == "svg" and "main-svg" in (attrs.get("class") or "").split():
            self.svgs += 1

    def handle_endtag(self, tag):
        if tag in ("td", "pre"):
            self._cell = None

    def handle_data(self, data):
        if self._cell == "value":
            self.rows[-1]["text"] += data
        elif self._cell == "errors":
            self.errors += data


@pytest.fixture(scope="module")
def backup_root(spark, settings, quality_run, tmp_path_factory):
    """One real full backup of the demo lake at a throw-away location (CARELAKE_BACKUP_ROOT) for the backup indicators."""
    from carelake.backup import backup_step

    saved = os.environ.get("CARELAKE_BACKUP_ROOT")
    os.environ["CARELAKE_BACKUP_ROOT"] = str(tmp_path_factory.mktemp("dashboard_backups"))
    backup_step(settings, kind="full")  # as the lifecycle DAG does: recorded in ops.pipeline_runs
    yield Path(os.environ["CARELAKE_BACKUP_ROOT"])
    if saved is None:
        os.environ.pop("CARELAKE_BACKUP_ROOT", None)
    else:
        os.environ["CARELAKE_BACKUP_ROOT"] = saved


@pytest.fixture(scope="module")
def rendered(spark, settings, backup_root, tmp_path_factory):
    """`carelake dashboard --out`, then the page (with the error hook) in headless Chromium: DOM, stderr, screenshot."""
    from typer.testing import CliRunner

    from carelake.cli import app

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is not installed: run scripts/setup.sh (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("dashboard")
    page = folder / "index.html"
    result = CliRunner().invoke(app, ["dashboard", "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    probe = folder / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + ERROR_HOOK, 1).replace(
        "<body>", '<body><pre id="console-errors"></pre>', 1), encoding="utf-8")
    screenshot = folder / "dashboard.png"
    proc = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=15000", "--window-size=1400,4000", f"--screenshot={screenshot}",
                           "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=240, check=True)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTIFACT)
    dom = _Dom()
    dom.feed(proc.stdout)
    document = json.loads((folder / "dashboard.json").read_text(encoding="utf-8"))
    return html, dom, proc.stderr, document


def test_page_is_self_contained_and_renders_without_console_errors(rendered):
    html, dom, stderr, _ = rendered
    source = _Dom()
    source.feed(html)
    assert source.external == [] and "<script" in html, "the page loads something from outside"
    assert dom.rows, "the browser's DOM has no indicator rows"
    assert dom.errors.strip() == "", dom.errors
    assert not [line for line in stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert dom.svgs >= 4, "plotly did not draw the charts"
    assert ARTIFACT.stat().st_size > 10_000


def test_every_indicator_shows_a_value_and_a_status(rendered):
    from carelake.operations.indicators import load_indicators

    _, dom, _, document = rendered
    catalog = load_indicators()
    shown = {row["data-indicator"] for row in dom.rows}
    assert shown == {i.id for i in catalog.indicators} and len(shown) >= 50
    missing = {i.id: i.missing for i in catalog.indicators}
    for row in dom.rows:
        text = row["text"].strip()
        assert text and "nan" not in text.lower() and row["data-status"] in ("green", "amber", "red"), row
        if row["data-value"] == "":  # no data: said explicitly, and red
            assert text == missing[row["data-indicator"]] and row["data-status"] == "red", row
    no_data = [row["data-indicator"] for row in dom.rows if row["data-value"] == ""]
    assert no_data == [], f"indicators without data on the full demo lake: {no_data}"
    assert len(document["values"]) == len(dom.rows)


def _shown(dom, indicator: str) -> dict[str, float]:
    """{source ("" for the platform): value} of one indicator, as the browser shows it (cells with a value)."""
    return {row["data-source"]: float(row["data-value"]) for row in dom.rows
            if row["data-indicator"] == indicator and row["data-value"]}


def test_indicators_equal_direct_queries_of_the_lake(spark, rendered, backup_root):
    from pyspark.sql import functions as F

    _, dom, _, _ = rendered
    ledger = spark.table("bronze.ingest_ledger")
    per_source = {r.source_id: r for r in ledger.groupBy("source_id").agg(
        F.sum("rows_read").alias("read"), F.sum("rows_quarantined").alias("quarantined")).collect()}
    assert _shown(dom, "rows_received_total") == {s: pytest.approx(r.read) for s, r in per_source.items()}
    assert _shown(dom, "quarantine_rate") == {s: pytest.approx(100.0 * r.quarantined / r.read) for s, r in per_source.items() if r.read}

    persons = spark.table("silver.mpi_person_map").toPandas()
    assert _shown(dom, "mpi_link_rate")[""] == pytest.approx(100.0 * (persons["match_method"] != "singleton").mean())

    coverage = spark.table("gold.mapping_coverage").toPandas()
    assert _shown(dom, "mapping_coverage")[""] == pytest.approx(100.0 * coverage["mapped_records"].sum() / coverage["total_records"].sum())

    scores = spark.table("quality.scores").toPandas()
    month = scores[scores["period_type"] == "month"]
    month = month[(month["run_at"] == scores["run_at"].max()) & (month["source_id"] != "*")]
    own_month = month.groupby("source_id")["period_start"].transform("max")  # each source's latest month
    latest = month[(month["period_start"] == own_month) & (month["dimension"] == "completeness")]
    sums = latest.groupby("source_id")[["element_count", "unexpected_count"]].sum()
    expected = {s: pytest.approx(100.0 * (1 - r.unexpected_count / r.element_count)) for s, r in sums.iterrows()}
    assert expected and _shown(dom, "quality_score_completeness") == expected

    last_day = ledger.agg(F.max("extract_date")).first()[0]  # the reference samples have no extract date
    alerts = spark.table("quality.alerts").toPandas()
    window = alerts[alerts["data_date"].map(lambda d: d is not None and (date.fromisoformat(last_day) - d).days < 7)]
    assert _shown(dom, "open_alerts_major")[""] == (window["severity"] == "major").sum()

    gold_bytes = 0
    for table in spark.catalog.listTables("gold"):
        if table.tableType != "VIEW" and not table.isTemporary:  # the MPI's Splink views are session-temporary
            gold_bytes += sum(os.path.getsize(f.removeprefix("file:")) for f in spark.table(f"gold.{table.name}").inputFiles())
    assert _shown(dom, "storage_bytes_gold")[""] == gold_bytes > 0

    runs = spark.table("ops.pipeline_runs").toPandas()
    assert _shown(dom, "pipeline_step_runs")[""] == len(runs)
    assert {"ingest", "transform-silver", "mpi", "deidentify", "transform-gold", "quality", "backup"} <= set(runs["step"])
    latest_mpi = runs[runs["step"] == "mpi"].sort_values("finished_at").iloc[-1]
    assert _shown(dom, "run_seconds_mpi")[""] == pytest.approx(latest_mpi["seconds"]) and latest_mpi["status"] == "success"

    assert _shown(dom, "backup_count")[""] == len(list(backup_root.glob("*/manifest.json"))) == 1
    assert 0 <= _shown(dom, "backup_age_hours")[""] < 1


def test_values_are_kept_as_a_timestamped_delta_table(spark, rendered):
    _, dom, _, document = rendered
    stored = spark.sql("select * from ops.indicator_values where evaluated_at = (select max(evaluated_at) from ops.indicator_values)").collect()
    assert len(stored) == len(dom.rows) == len(document["values"])
    assert {(r.indicator_id, r.source_id or "") for r in stored} == {(row["data-indicator"], row["data-source"]) for row in dom.rows}
