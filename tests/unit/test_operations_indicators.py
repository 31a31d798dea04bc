"""The operations indicators file: the committed one loads, every mistake is named with its indicator, and the
red / amber / green logic follows the thresholds' direction."""

from __future__ import annotations

import copy

import pytest

from carelake.config import load_settings
from carelake.operations.dashboard import format_value
from carelake.operations.indicators import IndicatorError, load_indicators, parse_indicators
from carelake.operations.thresholds import Thresholds

VALID = {
    "owners": {"data_engineer": "runs the pipeline"},
    "categories": {"ingest": "files and rows"},
    "indicators": [{
        "id": "quarantine_rate", "name": "Quarantine rate", "category": "ingest", "definition": "Rejected share.",
        "formula": {"sql": "select source_id, 1.0 as value from bronze.ingest_ledger"}, "unit": "%",
        "owner": "data_engineer", "grain": "source",
        "thresholds": {"direction": "lower_is_better", "green": 1, "amber": 5},
    }],
}


def _with(**changes) -> dict:
    doc = copy.deepcopy(VALID)
    doc["indicators"][0].update(changes)
    return doc


def test_the_committed_indicators_load_with_more_than_fifty_of_every_category():
    catalog = load_indicators(load_settings())
    assert len(catalog.indicators) >= 50
    assert len({i.id for i in catalog.indicators}) == len(catalog.indicators)
    assert {i.category for i in catalog.indicators} == set(catalog.categories)
    assert {i.grain for i in catalog.indicators} == {"platform", "source"}
    assert {i.measure for i in catalog.indicators if i.measure} == {"storage", "backup", "registered_sources"}
    assert catalog.charts and all(i.definition and i.owner in catalog.owners for i in catalog.indicators)


def test_a_valid_document_parses():
    indicator = parse_indicators(VALID).indicators[0]
    assert indicator.sql and indicator.measure is None and indicator.missing == "no data"
    assert indicator.thresholds == Thresholds("lower_is_better", 1, 5)


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, "unknown field 'colour'"),
    ({"owner": None}, "missing field 'owner'"),
    ({"owner": "nobody"}, "owner 'nobody' is not one of data_engineer"),
    ({"grain": "ward"}, "grain 'ward' is not one of platform, source"),
    ({"unit": "parsecs"}, "unit 'parsecs' is not one of"),
    ({"category": "other"}, "category 'other' is not one of ingest"),
    ({"id": "Quarantine-Rate"}, "id must be lower_snake_case"),
    ({"formula": {"sql": "select 1", "measure": "storage"}}, "exactly one of `sql` or `measure`"),
    ({"formula": {"measure": "moon_phase"}}, "unknown measure 'moon_phase'"),
    ({"thresholds": {"direction": "lower_is_better", "green": 5, "amber": 1}}, "lower_is_better needs green <= amber"),
    ({"thresholds": {"direction": "higher_is_better", "green": 90, "amber": 95}}, "higher_is_better needs green >= amber"),
    ({"thresholds": {"direction": "sideways", "green": 1, "amber": 2}}, "direction must be one of"),
    ({"thresholds": {"direction": "lower_is_better", "green": "low", "amber": 2}}, "green must be a finite number"),
    ({"thresholds": {"direction": "lower_is_better", "green": 1}}, "thresholds must have exactly direction, green and amber"),
])
def test_each_mistake_is_named_with_its_indicator(changes, message):
    with pytest.raises(IndicatorError) as caught:
        parse_indicators(_with(**changes))
    text = str(caught.value)
    assert f"indicator {changes.get('id', 'quarantine_rate')}:" in text and message in text, text


def test_duplicate_ids_and_every_problem_at_once():
    doc = copy.deepcopy(VALID)
    doc["indicators"].append(copy.deepcopy(doc["indicators"][0]))
    doc["indicators"].append({**copy.deepcopy(doc["indicators"][0]), "id": "other", "unit": "parsecs"})
    with pytest.raises(IndicatorError) as caught:
        parse_indicators(doc)
    text = str(caught.value)
    assert "2 problem(s)" in text
    assert "indicator quarantine_rate: duplicate id 'quarantine_rate'" in text and "indicator other: unit 'parsecs'" in text


def test_a_chart_with_an_unknown_kind_is_named():
    doc = {**copy.deepcopy(VALID), "charts": [{"id": "c1", "title": "t", "kind": "pie", "x": "a", "y": "b", "sql": "select 1"}]}
    with pytest.raises(IndicatorError, match="chart c1: kind 'pie' is not one of"):
        parse_indicators(doc)


@pytest.mark.parametrize("direction, green, amber, value, status", [
    ("higher_is_better", 98, 95, 99.0, "green"),
    ("higher_is_better", 98, 95, 98.0, "green"),
    ("higher_is_better", 98, 95, 96.5, "amber"),
    ("higher_is_better", 98, 95, 95.0, "amber"),
    ("higher_is_better", 98, 95, 94.9, "red"),
    ("lower_is_better", 1, 5, 0.0, "green"),
    ("lower_is_better", 1, 5, 1.0, "green"),
    ("lower_is_better", 1, 5, 3.0, "amber"),
    ("lower_is_better", 1, 5, 5.1, "red"),
    ("lower_is_better", 0, 0, 0.0, "green"),
    ("lower_is_better", 0, 0, 1.0, "red"),
    ("higher_is_better", 1, 1, 0.0, "red"),
    ("lower_is_better", 1, 5, None, "red"),
    ("higher_is_better", 1, 1, float("nan"), "red"),
])
def test_status_follows_direction_and_no_data_is_red(direction, green, amber, value, status):
    assert Thresholds(direction, green, amber).status(value) == status


@pytest.mark.parametrize("value, unit, shown", [
    (None, "hours", "never"), (1234.0, "rows", "1,234"), (2.5, "%", "2.50 %"), (12_345_678.0, "bytes", "12.3 MB"),
    (999.0, "bytes", "999 B"), (3.25, "hours", "3.2 h"), (98.123, "score", "98.12"), (7.0, "count", "7"),
])
def test_values_read_with_their_unit(value, unit, shown):
    assert format_value(value, unit, "never") == shown


def test_the_server_serves_the_page_on_loopback_only(tmp_path):
    import threading
    import urllib.request

    from carelake.operations.serve import HOST, dashboard_server

    (tmp_path / "index.html").write_text("<html>ops</html>", encoding="utf-8")
    server = dashboard_server(tmp_path / "index.html", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address
        assert host == HOST == "127.0.0.1"
        with urllib.request.urlopen(f"http://{host}:{port}/") as response:
            assert response.read() == b"<html>ops</html>"
    finally:
        server.shutdown()
        server.server_close()
