"""Concurrent writers: two ingests of the same landing started together on one lake end as one ingest.

A throw-away lake under ``tmp_path`` (own root, landing, Derby port) gets a tiny landing (``generate``: 2
hospitals, 6 patients, 2 days; only the two hospitals' CSV sources). Two ``python -m carelake ingest`` processes
start at the same moment on a fresh lake: both create the databases, the ledger, the quarantine and every bronze
table, and both write every file's rows (each reads an empty ledger before either writes it, which the test checks
in their reports), so their Delta commits collide: creations race in the Hive metastore and Delta's log, and
``replaceWhere`` writes and the ledger MERGE raise Delta's concurrency exceptions. Those are retried with bounded,
jittered backoff (:mod:`carelake.delta_retry`); every write is idempotent, so the lake must equal a single ingest of
the same landing in a second lake: same tables, row counts and content hashes (ignoring batch ids and ingest
times), one ledger row per file, balanced, no duplicate (file sha256, row number) in bronze.

Bounded: the single ingest runs with its snapshot in one process (``lake_snapshot.py`` runs the CLI command
in-process), started first so it runs beside the two concurrent ingests; then one snapshot process.
"""

from __future__ import annotations

import re
import shlex
import time

from process_lake import ProcessLake

SOURCES = ["-s", "h01_riverside", "-s", "h02_dongcheng"]


def test_two_concurrent_ingests_equal_one(tmp_path):
    from carelake.generate import generate

    generate(tmp_path / "landing", hospitals=2, patients=6, days=2, start_date="2026-10-01", seed=11)
    (tmp_path / "single").mkdir()
    (tmp_path / "shared").mkdir()
    single = ProcessLake(tmp_path / "single", tmp_path / "landing")
    shared = ProcessLake(tmp_path / "shared", tmp_path / "landing")
    try:
        clock = time.monotonic()
        reference = single.start_snapshot((shlex.join(["ingest", *SOURCES]),))  # in the background

        # the Derby server first: two processes racing to start it leave the loser's pid in the pid file, and
        # `metastore stop` would then miss the winner (a metastore start race, not a Delta one)
        shared.ok(["metastore", "start"])
        started = time.monotonic()
        procs = [shared.start(["ingest", *SOURCES]) for _ in range(2)]
        outputs = [p.communicate(timeout=900) for p in procs]
        concurrent_seconds = time.monotonic() - started
        for p, (out, err) in zip(procs, outputs):
            assert p.returncode == 0, f"a concurrent ingest failed (rc {p.returncode}):\n{out[-3000:]}\n{err[-4000:]}"
        for out, _ in outputs:  # both loaded the files (neither found them in the ledger): their writes overlapped
            skipped = re.search(r"skipped (\d+) file\(s\) already in the ledger", out)
            assert not skipped or skipped.group(1) == "0", f"an ingest ran after the other had finished:\n{out[-2000:]}"
        retries = sum(len(re.findall(r"retry \d+/\d+ of ", err)) for _, err in outputs)
        got = shared.snapshot()
        expected = reference.result()
        print(f"single ingest + snapshot {reference.seconds:.0f}s (beside the others); two concurrent ingests "
              f"{concurrent_seconds:.0f}s, {retries} retried conflicts; test {time.monotonic() - clock:.0f}s")
    finally:
        single.close()
        shared.close()

    facts = got["facts"]
    assert facts["ledger_rows"] == facts["ledger_keys"] == expected["facts"]["ledger_rows"] > 0
    assert facts["ledger_unbalanced"] == 0
    assert facts["bronze_duplicate_rows"] == 0 and facts["quarantine_duplicate_rows"] == 0
    assert facts["bronze_rows_differing_from_ledger"] == [] and facts["bronze_files_not_in_ledger"] == []
    assert facts == expected["facts"]
    assert sorted(got["tables"]) == sorted(expected["tables"])
    differing = {t: (expected["tables"][t], got["tables"][t]) for t in expected["tables"]
                 if got["tables"][t] != expected["tables"][t]}
    assert differing == {}, f"tables differing from a single ingest (rows:hash single, concurrent): {differing}"
