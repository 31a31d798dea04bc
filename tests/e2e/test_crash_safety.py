"""Crash safety: the pipeline killed with SIGKILL at several points, then rerun, ends as a clean run does.

Two throw-away lakes under ``tmp_path`` (own lake root, landing, Derby port; never the session demo lake) get the
same tiny landing (``generate``: 2 hospitals, 6 patients each, 2 days; 36 files, ~200 records; only the two
hospitals' CSV sources are ingested). Both run the same daily sequence - ingest day 1, transform, ingest day 2,
transform (the incremental model then MERGEs day 2 into day 1), validate - with the real CLI code:

* **reference** (clean): all five commands and the snapshot in ONE background process (``lake_snapshot.py`` runs
  them through ``carelake.cli.app``), started first so it runs beside the crashed chain;
* **crashed**: each ``python -m carelake ...`` in a subprocess of its own session (:mod:`process_lake`), killed and
  rerun:

  1. ``ingest --date D1`` killed at ``ingest.after_bronze_commit`` (a bronze slice committed, others not; slices of
     5 records in this run, so a table takes several commits), then ``ingest --date D1`` again;
  2. ``transform`` (creates the incremental model ``int_notes``);
  3. ``ingest --date D2`` killed at ``ingest.before_quarantine`` (its bronze rows written, no quarantine, no ledger),
     then killed again at ``ingest.before_ledger`` (bronze rewritten, quarantine written, no ledger), then
     ``ingest --date D2`` again;
  4. ``transform`` started in a session of its own; as soon as dbt's log shows the ``merge into`` statement of
     ``int_notes`` (day 2's rows merged into day 1's table), the whole process group (carelake, dbt, its Spark JVM)
     is killed with ``os.killpg(SIGKILL)`` - a crashed machine; the test checks the MERGE had not committed (no
     MERGE in the table's Delta log) - then the transform is rerun;
  5. ``validate --table stg_patients`` killed at ``quality.after_results`` (results written, scores, failed rows,
     anomalies, alerts not), then ``validate`` again (a new run id) in the snapshot's process.

Then both lakes must have the same tables with the same row counts and content hashes (ignoring only the per-run
columns in ``lake_snapshot.PER_RUN_COLUMNS``: batch/run ids and wall-clock times), and the crashed lake's ledger
must balance: one row per file, rows_read = rows_bronze + rows_quarantined, bronze and quarantine rows per file as
the ledger says, no duplicate (file sha256, row number), no bronze rows of files the ledger lacks.

Bounded: a full ``dbt build`` of the project takes minutes, so the transforms build ``DBT_SELECTION`` only - the
two hospitals' notes staging views, ``int_notes`` (merge strategy), the patients' staging views the
``stg_patients`` suite reads, the seed ``source_organisations`` and the gold table ``md_organisations`` - without
dbt tests (they write no table; the transform tests run them). MPI and de-identification are not run here (their
writes are whole-table overwrites or keyed MERGEs; see docs/crash-safety.md). Every CLI process starts a JVM and a
Spark session (~20 s on 2 cores), so the time is set by the 10 processes of the crashed chain (docs/crash-safety.md
has the measurements); the MPI and de-identification kill points are left to manual drills.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest
from process_lake import ProcessLake

# ~10-11 min on an idle 2-core machine (578.6-672 s on 2026-12-04): `make test-crash`, not `make test` (CI's time limit)
pytestmark = pytest.mark.crash

DAY1, DAY2 = "2026-10-01", "2026-10-02"
SOURCES = ["-s", "h01_riverside", "-s", "h02_dongcheng"]
DBT_SELECTION = "+int_notes stg_h01_riverside__patients stg_h02_dongcheng__patients +md_organisations"
TRANSFORM = ["transform", "--select", DBT_SELECTION, "--no-dbt-tests"]
INCREMENTAL_MODEL = "int_notes"
SUITE = "stg_patients"
SMALL_SLICES = {"CARELAKE_INGEST_SLICE_ROWS": "5"}  # a table takes several commits: the kill falls between them


def ingest(day: str) -> list[str]:
    return ["ingest", *SOURCES, "--date", day]


def clean_sequence() -> tuple[str, ...]:
    """The daily sequence both lakes run, as command lines."""
    import shlex

    return tuple(shlex.join(c) for c in (ingest(DAY1), TRANSFORM, ingest(DAY2), TRANSFORM, ["validate", "--table", SUITE]))


@pytest.fixture
def landing(tmp_path):
    from carelake.generate import generate

    generate(tmp_path / "landing", hospitals=2, patients=6, days=2, start_date=DAY1, seed=11)
    return tmp_path / "landing"


@pytest.fixture
def lakes(tmp_path, landing):
    made = []

    def make(name: str) -> ProcessLake:
        (tmp_path / name).mkdir()
        made.append(ProcessLake(tmp_path / name, landing))
        return made[-1]

    yield make
    for lake in made:
        lake.close()


def delta_operations(table_dir) -> list[str]:
    """The operations of a Delta table's commits, oldest first (its _delta_log JSON, no Spark)."""
    operations = []
    for commit in sorted((table_dir / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            info = json.loads(line).get("commitInfo")
            if info:
                operations.append(info["operation"])
    return operations


def kill_during_merge(lake: ProcessLake, args: list[str], model: str, timeout: float = 600) -> str:
    """Start ``carelake <args>`` in its own session; SIGKILL its process group once dbt logs the ``merge into`` of the
    incremental ``model`` (dbt logs each statement as it sends it to Spark)."""
    log = lake.root / "_dbt" / "logs" / "dbt.log"
    offset = log.stat().st_size if log.is_file() else 0
    started = re.compile(rf"^\s*merge into \S*{model}\b", re.MULTILINE | re.IGNORECASE)
    finished = re.compile(rf"(OK created|ERROR creating) sql incremental model \S*{model}\b")
    proc = lake.start(args)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            text = log.read_bytes()[offset:].decode(errors="replace") if log.is_file() else ""
            if started.search(text):
                time.sleep(0.5)  # the MERGE is running (a MERGE of a few rows takes seconds in a fresh JVM)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(60)
                text = log.read_bytes()[offset:].decode(errors="replace")
                assert not finished.search(text), f"dbt finished {model} before the kill:\n{text[-3000:]}"
                return text
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"carelake {' '.join(args)} ended (rc {proc.returncode}) before {model}'s merge:\n{out[-3000:]}\n{err[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"{model}'s merge did not start within {timeout}s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(60)


def test_killed_pipeline_reruns_to_the_clean_result(lakes):
    clock = time.monotonic()
    reference = lakes("reference").start_snapshot(clean_sequence())  # one process, beside the crashed chain

    crashed = lakes("crashed")
    crashed.killed_at(ingest(DAY1), "ingest.after_bronze_commit", env=SMALL_SLICES)
    crashed.ok(ingest(DAY1))
    crashed.ok(TRANSFORM)
    crashed.killed_at(ingest(DAY2), "ingest.before_quarantine")
    crashed.killed_at(ingest(DAY2), "ingest.before_ledger")
    crashed.ok(ingest(DAY2))
    notes = crashed.root / "silver" / INCREMENTAL_MODEL
    assert "MERGE" not in delta_operations(notes), "day 1 created the incremental table"
    kill_during_merge(crashed, TRANSFORM, INCREMENTAL_MODEL)
    assert "MERGE" not in delta_operations(notes), "the MERGE committed before the kill: not a kill during it"
    crashed.ok(TRANSFORM)
    assert delta_operations(notes).count("MERGE") == 1, "the rerun merged day 2 once"
    crashed.killed_at(["validate", "--table", SUITE], "quality.after_results")
    markers = list((crashed.root / "_quality" / "runs").glob("*.started"))
    assert len(markers) == 1, "the killed quality run left its intent marker"
    got = crashed.snapshot((f"validate --table {SUITE}",))  # the rerun, then the snapshot, in one process
    assert not list((crashed.root / "_quality" / "runs").glob("*.started")), "the rerun reconciled the killed run"
    crashed_seconds = time.monotonic() - clock
    expected = reference.result()
    print(f"crashed chain + reruns {crashed_seconds:.0f}s, reference (in parallel) {reference.seconds:.0f}s, "
          f"test {time.monotonic() - clock:.0f}s")

    facts = got["facts"]
    assert facts["ledger_unbalanced"] == 0
    assert facts["ledger_rows"] == facts["ledger_keys"] == expected["facts"]["ledger_rows"] > 0
    assert facts["bronze_duplicate_rows"] == 0 and facts["quarantine_duplicate_rows"] == 0
    assert facts["bronze_rows_differing_from_ledger"] == [] and facts["bronze_files_not_in_ledger"] == []
    assert facts["quarantine_differing_from_ledger"] == []
    assert facts == expected["facts"]
    for layer in ("bronze.", "silver.", "gold.", "quality."):
        assert any(t.startswith(layer) for t in expected["tables"]), f"the reference has no {layer} table"
    assert sorted(got["tables"]) == sorted(expected["tables"])
    differing = {t: (expected["tables"][t], got["tables"][t]) for t in expected["tables"]
                 if got["tables"][t] != expected["tables"][t]}
    assert differing == {}, f"tables differing from the clean run (rows:hash reference, crashed): {differing}"
