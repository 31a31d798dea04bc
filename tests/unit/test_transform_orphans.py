"""Which folders a failed dbt build names as a table's files the catalog does not know, and setting them aside."""

from __future__ import annotations

from carelake.config import load_settings
from carelake.transform import DbtResult, orphaned_table_folders, set_aside


def failed_build(tmp_path, *messages: str) -> DbtResult:
    return DbtResult(args=["build"], returncode=1, seconds=1.0, stdout="", target_path=tmp_path,
                     results=[{"unique_id": f"seed.carelake.s{i}", "status": "error", "message": m}
                              for i, m in enumerate(messages)])


def refusal(location: str) -> str:
    return ("Runtime Error\n  [DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION] Cannot create table ('`silver`.`t`'). "
            f"The associated location ('{location}') is not empty and also not a Delta table.")


def test_only_existing_table_folders_inside_the_lake_are_named(tmp_path):
    lake = tmp_path / "lake"
    (lake / "silver" / "map_routes" / "_delta_log").mkdir(parents=True)
    (tmp_path / "elsewhere" / "t").mkdir(parents=True)
    result = failed_build(tmp_path,
                          refusal(f"file:{lake}/silver/map_routes"),
                          refusal(f"file:{lake}/silver/map_routes"),  # named twice: once
                          refusal(f"file:{tmp_path}/elsewhere/t"),  # outside the lake: never touched
                          refusal(f"file:{lake}/silver/gone"),  # no such folder
                          refusal(f"file:{lake}/silver"),  # a database folder itself: never
                          "Runtime Error\n  [TABLE_OR_VIEW_NOT_FOUND] silver.x")
    assert orphaned_table_folders(result, lake) == [(lake / "silver" / "map_routes").resolve()]
    ok = DbtResult(args=["build"], returncode=0, seconds=1.0, stdout="", target_path=tmp_path)
    assert orphaned_table_folders(ok, lake) == []


def test_set_aside_keeps_the_folder_under_orphans(tmp_path, monkeypatch):
    monkeypatch.setenv("CARELAKE_LAKE_ROOT", str(tmp_path / "lake"))
    settings = load_settings()
    folder = tmp_path / "lake" / "gold" / "person"
    (folder / "_delta_log").mkdir(parents=True)
    (folder / "_delta_log" / "00000000000000000000.json").write_text("{}")
    [moved] = set_aside(settings, [folder.resolve()])
    assert not folder.exists()
    assert moved.relative_to((tmp_path / "lake" / "_orphans").resolve()).parts[1:] == ("gold", "person")
    assert (moved / "_delta_log" / "00000000000000000000.json").read_text() == "{}"
