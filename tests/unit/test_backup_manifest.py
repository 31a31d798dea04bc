"""Backup internals without Spark: deletion-vector paths from the log, log-file versions, manifests, pruning."""

from __future__ import annotations

import json

import pytest

from carelake.backup import delta_log
from carelake.backup.backup import prune
from carelake.backup.manifest import FileEntry, Manifest, backups_in, copy_with_sha256, unfinished_in
from carelake.ingest.landed import sha256_of


def test_deletion_vector_path_follows_the_delta_protocol_example():
    # PROTOCOL.md, "Deletion Vector Descriptor Schema": prefix "ab" + Z85 of the UUID
    dv = {"storageType": "u", "pathOrInlineDv": "ab^-aqEH.-t@S}K{vb[*k^", "offset": 4, "sizeInBytes": 40}
    assert delta_log.deletion_vector_path(dv) == "ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin"
    assert delta_log.deletion_vector_path({"storageType": "i", "pathOrInlineDv": "wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L"}) is None
    with pytest.raises(delta_log.DeltaLogError, match="absolute path"):
        delta_log.deletion_vector_path({"storageType": "p", "pathOrInlineDv": "s3://bucket/dv.bin"})


def test_log_file_versions():
    v = delta_log.log_file_version
    assert v("00000000000000000012.json") == 12 and v("00000000000000000010.checkpoint.parquet") == 10
    assert v("00000000000000000010.crc") == 10 and v(".00000000000000000011.json.crc") == 11
    assert v("00000000000000000010.checkpoint.0000000001.0000000002.parquet") == 10
    assert v("_last_checkpoint") is None


def test_files_added_reads_adds_cdc_and_deletion_vectors(tmp_path):
    log = tmp_path / "_delta_log"
    log.mkdir()
    (log / "00000000000000000000.json").write_text(json.dumps({"add": {"path": "part-0.parquet"}}) + "\n")
    (log / "00000000000000000001.json").write_text("\n".join(json.dumps(a) for a in [
        {"add": {"path": "d%3D2026-10-01/part-1.parquet"}},
        {"remove": {"path": "part-0.parquet"}},
        {"add": {"path": "part-0.parquet", "deletionVector": {"storageType": "u", "pathOrInlineDv": "ab^-aqEH.-t@S}K{vb[*k^"}}},
        {"cdc": {"path": "_change_data/cdc-1.parquet"}}]) + "\n")
    assert delta_log.latest_version(tmp_path) == 1
    assert delta_log.files_added(tmp_path, 0, 1) == {
        "d=2026-10-01/part-1.parquet", "part-0.parquet", "_change_data/cdc-1.parquet",
        "ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin"}
    (log / "_last_checkpoint").write_text('{"version": 5}')
    assert delta_log.log_files_through(tmp_path, 0) == ["_delta_log/00000000000000000000.json"]
    with pytest.raises(delta_log.DeltaLogError, match="commit missing"):
        delta_log.files_added(tmp_path, 1, 2)


def _manifest(folder, backup_id: str, kind: str, parent=None) -> Manifest:
    m = Manifest(backup_id=backup_id, kind=kind, parent=parent, created_at="2026-12-01T00:00:00+00:00", lake_root="/l",
                 files={"a.txt": FileEntry(size=1, sha256="x", mtime_ns=0, stored_in=backup_id)})
    m.write(folder)
    return m


def test_manifests_round_trip_and_prune_whole_chains(tmp_path):
    for day, kind in [(1, "full"), (2, "incr"), (8, "full"), (9, "incr"), (15, "full")]:
        _manifest(tmp_path, f"202612{day:02d}T000000Z-{kind}", "full" if kind == "full" else "incremental")
    (tmp_path / "20261216T000000Z-incr").mkdir()  # died before its manifest
    assert [p.name for p in unfinished_in(tmp_path)] == ["20261216T000000Z-incr"]
    assert Manifest.read(tmp_path / "20261208T000000Z-full" / "manifest.json").files["a.txt"].stored_in == "20261208T000000Z-full"
    assert prune(tmp_path, 2) == ["20261201T000000Z-full", "20261202T000000Z-incr"]
    assert [m.backup_id for m in backups_in(tmp_path)] == ["20261208T000000Z-full", "20261209T000000Z-incr",
                                                            "20261215T000000Z-full"]


def test_copy_keeps_bytes_and_modification_time(tmp_path):
    source = tmp_path / "s.bin"
    source.write_bytes(b"carelake" * 1000)
    import os

    os.utime(source, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    digest = copy_with_sha256(source, tmp_path / "deep" / "t.bin")
    assert digest == sha256_of(source) == sha256_of(tmp_path / "deep" / "t.bin")
    assert (tmp_path / "deep" / "t.bin").stat().st_mtime_ns == 1_700_000_000_000_000_000
