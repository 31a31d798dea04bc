"""A bronze write's Arrow table: per-row lineage right whether files come as Arrow tables or as rows, and
many one-record files (a PACS export) become one table built column by column, not one table per file."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from carelake.config import load_settings
from carelake.ingest.columns import LINEAGE_COLUMNS
from carelake.ingest.landed import LandedFile, sha256_of
from carelake.ingest.runner import _bronze_arrow, parse_file
from carelake.registry import load_registry, pydicom_data_dir

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def registry():
    return load_registry(load_settings())


def _landed(registry, source_id: str, entity: str, path, extract_date: str) -> LandedFile:
    source = registry.source(source_id)
    return LandedFile(source, source.entities[entity], path, extract_date, sha256_of(path), path.stat().st_size)


def test_many_one_record_files_make_one_chunk_with_each_files_lineage(registry):
    paths = sorted((pydicom_data_dir() / "test_files").glob("*.dcm"))
    parts = [parse_file(registry, _landed(registry, "h01_riverside_pacs", "imaging_instances", p,
                                          "2026-10-01" if i % 2 else "2026-10-02"))
             for i, p in enumerate(paths)]
    loaded = [p for p in parts if p.outcome.rows_bronze]
    assert len(loaded) > 30  # readable ones; the refused ones are failed files with nothing for bronze

    table = _bronze_arrow(parts, "batch-1", NOW)

    assert table.num_rows == len(loaded)
    assert table.column_names[-len(LINEAGE_COLUMNS):] == list(LINEAGE_COLUMNS)
    assert all(column.num_chunks == 1 for column in table.columns)  # one group, not one table per file
    rows = table.to_pylist()
    for part, row in zip(loaded, rows):  # file order kept: each row carries its own file's lineage
        landed = part.outcome.file
        assert (row["_source_file"], row["_file_sha256"], row["_row_number"]) == (str(landed.path), landed.sha256, 1)
        assert str(row["_extract_date"]) == landed.extract_date
        assert row["sop_instance_uid"] == dict(zip(part.names, part.parsed.rows[0]))["sop_instance_uid"]
    assert {r["_batch_id"] for r in rows} == {"batch-1"} and {r["_source_id"] for r in rows} == {"h01_riverside_pacs"}
    assert {r["_ingested_at"] for r in rows} == {NOW}


def test_arrow_and_row_files_mix_with_columns_unioned(registry, tmp_path):
    fast = tmp_path / "2026-10-01" / "patients.csv"  # well-formed: pyarrow's vectorised path, an Arrow table
    exact = tmp_path / "2026-10-02" / "patients.csv"  # a bad record: the line-by-line path, rows; and a new column
    for path, text in ((fast, "PatientID,FullName\nP1,Ann\nP2,Bo\n"),
                       (exact, "PatientID,FullName,Phone\nP3,Cy,138\nP9,bad\n\nP4,Di,139\n")):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    parts = [parse_file(registry, _landed(registry, "h01_riverside", "patients", path, path.parent.name))
             for path in (fast, exact)]
    assert parts[0].parsed.table is not None and parts[1].parsed.table is None
    assert [r.row_number for r in parts[1].rejected] == [3]

    table = _bronze_arrow(parts, "b", NOW)

    assert table.column_names == ["patient_source_id", "name", "phone", *LINEAGE_COLUMNS]
    assert [(r["patient_source_id"], r["name"], r["phone"], r["_row_number"], str(r["_extract_date"]))
            for r in table.to_pylist()] == [
        ("P1", "Ann", None, 2, "2026-10-01"), ("P2", "Bo", None, 3, "2026-10-01"),
        ("P3", "Cy", "138", 2, "2026-10-02"), ("P4", "Di", "139", 5, "2026-10-02"),
    ]


def test_a_slice_without_records_still_has_the_lineage_schema(registry, tmp_path):
    empty = tmp_path / "patients.csv"
    empty.write_text("PatientID,FullName\n", encoding="utf-8")
    part = parse_file(registry, _landed(registry, "h01_riverside", "patients", empty, "2026-10-01"))
    table = _bronze_arrow([part], "b", NOW)
    assert table.num_rows == 0 and table.column_names == list(LINEAGE_COLUMNS)
