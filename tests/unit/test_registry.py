"""The registry: the committed file is valid, and mistakes are reported with their place."""

from __future__ import annotations

import pytest
import yaml

from carelake.config import load_settings
from carelake.ingest.columns import bronze_names, sanitize
from carelake.registry import RegistryError, load_registry


def write(tmp_path, sources) -> str:
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
    return path


GOOD = {"id": "h9", "name": "H9", "kind": "hospital", "format": "csv",
        "entities": {"patients": {"path": "{landing}/h9/{date}/p.csv", "columns": {"PID": "patient_source_id"}}}}


def test_committed_registry_is_valid():
    registry = load_registry(load_settings())
    assert len(registry.sources) >= 4
    assert {s.format for s in registry.sources} >= {"csv", "fhir_ndjson", "hl7v2"}


def test_unknown_canonical_column_is_named(tmp_path):
    bad = {**GOOD, "entities": {"patients": {"path": "p.csv", "columns": {"PID": "patient_sourceid"}}}}
    with pytest.raises(RegistryError, match=r"sources\[0\] \(id h9\).*unknown canonical column\(s\) patient_sourceid"):
        load_registry(load_settings(), path=write(tmp_path, [bad]))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": "parquet"}, "format"),
        ({"csv": {"encoding": "gb-9999"}}, "unknown encoding 'gb-9999'"),
        ({"id": "Bad Id"}, "lower_snake_case"),
        ({"kind": "pharmacy"}, "kind"),
        ({"csv": {"delimiter": ";;"}}, "exactly one character"),
    ],
)
def test_mistakes_are_reported_with_source_and_field(tmp_path, change, message):
    with pytest.raises(RegistryError) as info:
        load_registry(load_settings(), path=write(tmp_path, [GOOD, {**GOOD, "id": "h10", **change}]))
    text = str(info.value)
    assert "sources[1]" in text and message in text and str(tmp_path) in text


def test_duplicate_ids_and_bad_yaml(tmp_path):
    with pytest.raises(RegistryError, match="duplicate source id"):
        load_registry(load_settings(), path=write(tmp_path, [GOOD, GOOD]))
    broken = tmp_path / "broken.yml"
    broken.write_text("sources: [\n  - id: x\n")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(load_settings(), path=broken)


def test_date_placeholder_captures_extract_date(tmp_path):
    settings = load_settings().with_(landing_root=tmp_path)
    for day in ("2026-10-01", "2026-10-02"):
        (tmp_path / "h9" / day).mkdir(parents=True)
        (tmp_path / "h9" / day / "p.csv").write_text("PID\n1\n")
    registry = load_registry(settings, path=write(tmp_path, [GOOD]))
    source = registry.source("h9")
    found = registry.landed_files(source, source.entities["patients"])
    assert [d for _, d in found] == ["2026-10-01", "2026-10-02"]
    assert [d for _, d in registry.landed_files(source, source.entities["patients"], "2026-10-02")] == ["2026-10-02"]


def test_bronze_names_map_sanitise_and_dedupe():
    assert sanitize(" Patient ID ") == "patient_id" and sanitize("姓名") == "姓名" and sanitize("1st") == "c_1st"
    names = bronze_names(["PID", "Extra Col", "extra-col", "_source_id"], {"PID": "patient_source_id"})
    assert names == ["patient_source_id", "extra_col", "extra_col_2", "source_id"]
