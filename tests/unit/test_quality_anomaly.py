"""The anomaly level's scoring, on the generator's own file counts (no Spark) and on constructed series."""

from __future__ import annotations

import dataclasses
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from carelake.generate import generate
from carelake.quality.anomaly import load_config, score_history
from carelake.quality.metrics import volume_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DEMO_GENERATION, REPO  # noqa: E402

MAX_FALSE_POSITIVE_SHARE = 0.02  # of scored (source, table, day) points outside a planted drop


@pytest.fixture(scope="module")
def config():
    return load_config(REPO / "metadata" / "quality" / "anomaly.yml")


@pytest.fixture(scope="module")
def demo_volumes(tmp_path_factory):
    """Records per source × entity × extract date as generated (the ledger's rows_read on a clean ingest)."""
    summary = generate(tmp_path_factory.mktemp("landing"), **DEMO_GENERATION)
    files = pd.DataFrame(summary.files)
    volumes = files.groupby(["source_id", "entity", "extract_date"], as_index=False)["records"].sum()
    return volumes.rename(columns={"entity": "table_name", "extract_date": "data_date", "records": "value"}).astype({"value": float})


def _planted_windows(config) -> dict[str, set[date]]:
    """Dates whose longest window overlaps a planted drop, per source."""
    reach = max(config.windows) - 1
    out = {}
    for source_id, (first, days, _) in DEMO_GENERATION["volume_drops"].items():
        start = date.fromisoformat(first)
        out[source_id] = {start + timedelta(days=n) for n in range(days + reach)}
    return out


def test_every_setting_has_a_reason():
    raw = yaml.safe_load((REPO / "metadata" / "quality" / "anomaly.yml").read_text(encoding="utf-8"))
    for section in ("robust_z", "null_rate_columns", *(f"metrics.{m}" for m in raw["metrics"])):
        node = raw
        for part in section.split("."):
            node = node[part]
        assert node.get("reason"), f"{section} has no reason"
    baseline = raw["baseline"]
    for key in baseline:
        if not key.endswith("reason"):
            assert baseline.get("reason" if key == "days" else f"{key}_reason"), f"baseline.{key} has no reason"


def test_planted_volume_drop_is_flagged_and_ordinary_days_are_not(config, demo_volumes):
    scored = score_history(volume_metrics(demo_volumes), config)
    planted = _planted_windows(config)
    in_drop = scored.apply(lambda r: r["data_date"] in planted.get(r["source_id"], ()), axis=1)
    drops = scored[in_drop & scored["flagged"]]
    for source_id, days in planted.items():
        hits = drops[(drops["source_id"] == source_id) & (drops["direction"] == "drop")]
        assert not hits.empty, f"planted drop of {source_id} not flagged"
        assert (hits[hits["table_name"] == "*"]["value"] < hits[hits["table_name"] == "*"]["expected"]).all()
        assert any(t.endswith("encounters") for t in hits["table_name"]), "the lost visits themselves are not flagged"
    ordinary = scored[~in_drop]
    assert len(ordinary) > 1000, "too little history scored to judge false positives"
    false_share = ordinary["flagged"].mean()
    assert false_share <= MAX_FALSE_POSITIVE_SHARE, f"{false_share:.1%} of ordinary days flagged:\n{ordinary[ordinary['flagged']]}"


def _series(values, metric="row_count", table="t", start=date(2026, 9, 1)) -> pd.DataFrame:
    return pd.DataFrame({"source_id": "s", "table_name": table, "metric": metric, "value": [float(v) for v in values],
                         "data_date": [start + timedelta(days=n) for n in range(len(values))]})


def test_null_rate_jump_is_flagged_but_one_stray_null_is_not(config):
    rates = [0.0] * 40 + [0.1, 0.0, 0.6]
    rows = [20] * len(rates)
    scored = score_history(pd.concat([_series(rates, "null_rate:id_number"), _series(rows)]), config)
    nulls = scored[scored["metric"] == "null_rate:id_number"].set_index("data_date")
    flagged = nulls[nulls["flagged"]]
    assert list(flagged.index) == [date(2026, 9, 1) + timedelta(days=42)]
    assert flagged["direction"].iloc[0] == "rise" and flagged["value"].iloc[0] == pytest.approx(0.6)


def test_rate_on_too_few_rows_is_not_flagged(config):
    rates = [0.0] * 40 + [1.0]
    scored = score_history(pd.concat([_series(rates, "null_rate:id_number"), _series([20] * 40 + [2])]), config)
    assert not scored[scored["metric"] == "null_rate:id_number"]["flagged"].any()


def test_weekday_baseline_accepts_quiet_weekends_and_catches_a_weekday_drop(config):
    start = date(2026, 9, 7)  # a Monday
    weekly = [40 if (start + timedelta(days=n)).weekday() < 5 else 4 for n in range(70)]
    weekly[63] = 8  # a Monday with a weekend's volume: a real drop
    assert (start + timedelta(days=63)).weekday() == 0
    plain = score_history(_series(weekly, start=start), dataclasses.replace(config, windows=(1,)))
    seasonal = score_history(_series(weekly, start=start), dataclasses.replace(config, windows=(1,), day_of_week=True,
                                                                                baseline_days=56))
    weekend_flags = plain[plain["flagged"] & plain["data_date"].map(lambda d: d.weekday() >= 5)]
    assert not weekend_flags.empty, "without the weekday baseline quiet weekends look like drops"
    flagged = seasonal[seasonal["flagged"]]
    assert list(flagged["data_date"]) == [start + timedelta(days=63)]
    assert flagged["method"].iloc[0].endswith("_weekday")
