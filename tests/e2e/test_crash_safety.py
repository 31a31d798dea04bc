"""Crash safety: the pipeline killed with SIGKILL at several points, then rerun, ends as a clean run does.

Two throw-away lakes under ``tmp_path`` (own lake root, landing, Derby port; never the session demo lake) get the
same tiny landing (``generate``: 2 hospitals, 6 patients each, 2 days; 36 files, ~200 records; only the two
hospitals' CSV sources are ingested). Every step is the real ``python -m carelake ...`` CLI in a subprocess
(:mod:`process_lake`):

* **reference**: ``ingest``, ``transform --select DBT_SELECTION``, ``validate --table stg_patients``;
* **crashed**: the same steps, each first killed and then rerun:

  1. ``ingest --date D1`` killed at ``ingest.after_bronze_commit`` (a bronze slice committed, others not; slices of
     5 records in this run, so a table takes several commits);
  2. ``ingest --date D1`` killed at ``ingest.before_ledger`` (all bronze and quarantine rows written, no ledger);
  3. ``ingest`` (both days) killed at ``ingest.before_quarantine`` (both days' bronze rewritten, no quarantine, no
     ledger), then a clean ``ingest``;
  4. ``transform --select DBT_SELECTION`` started in a session of its own; as soon as dbt's log shows the
     incremental model ``int_notes`` started, the whole process group (carelake, dbt, its Spark JVM) is killed
     with ``os.killpg(SIGKILL)`` - a crashed machine - then the transform is rerun;
  5. ``validate --table stg_patients`` killed at ``quality.after_results`` (results written, scores, failed rows,
     anomalies, alerts not), then ``validate`` again (a new run id).

Then both lakes must have the same tables with the same row counts and content hashes (ignoring only the per-run
columns in ``lake_snapshot.PER_RUN_COLUMNS``: batch/run ids and wall-clock times), and the crashed lake's ledger
must balance: one row per file, rows_read = rows_bronze + rows_quarantined, bronze and quarantine rows per file as
the ledger says, no duplicate (file sha256, row number), no bronze rows of files the ledger lacks.

Bounded: a full ``dbt build`` of the project takes minutes, so the dbt step builds ``DBT_SELECTION`` only - the
two hospitals' notes staging views, the incremental model ``int_notes`` (merge strategy, the model killed), the
patients' staging views the ``stg_patients`` suite reads, the seed ``source_organisations`` and the gold table
``md_organisations`` - with their dbt tests. MPI and de-identification are not run here (their writes are
whole-table overwrites or keyed MERGEs; see docs/crash-safety.md). About 12 CLI processes: on an idle 2-core
machine a few minutes, much longer when other Spark jobs share it (docs/crash-safety.md has the measurements).
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from process_lake import ProcessLake

# ~14 min on 2 cores (12 CLI processes, two lakes): run by `make test-crash`, not by `make test` (CI's time limit)
pytestmark = pytest.mark.crash

DAY1, DAY2 = "2026-10-01", "2026-10-02"
SOURCES = ["-s", "h01_riverside", "-s", "h02_dongcheng"]
DBT_SELECTION = ("+int_notes stg_h01_riverside__patients stg_h02_dongcheng__patients +md_organisations")
INCREMENTAL_MODEL = "int_notes"
SUITE = "stg_patients"
SMALL_SLICES = {"CARELAKE_INGEST_SLICE_ROWS": "5"}  # a table takes several commits: the kill falls between them


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


def kill_during_incremental_model(lake: ProcessLake, args: list[str], model: str, timeout: float = 600) -> str:
    """Start ``carelake <args>`` in its own session; SIGKILL its process group once dbt logs ``model`` started."""
    log = lake.root / "_dbt" / "logs" / "dbt.log"
    offset = log.stat().st_size if log.is_file() else 0
    started = re.compile(rf"START sql incremental model \S*{model}\b")
    finished = re.compile(rf"(OK created|ERROR creating) sql incremental model \S*{model}\b")
    proc = lake.start(args)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")[offset:] if log.is_file() else ""
            if started.search(text):
                time.sleep(0.5)  # inside the model's statements (view of new rows, MERGE)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(60)
                text = log.read_text(errors="replace")[offset:]
                assert not finished.search(text), f"dbt finished {model} before the kill:\n{text[-3000:]}"
                return text
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"carelake {' '.join(args)} ended (rc {proc.returncode}) before {model} started:\n{out[-3000:]}\n{err[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"{model} did not start within {timeout}s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(60)


def test_killed_pipeline_reruns_to_the_clean_result(lakes):
    clock = time.monotonic()
    reference = lakes("reference")
    reference.ok(["ingest", *SOURCES])
    reference.ok(["transform", "--select", DBT_SELECTION])
    reference.ok(["validate", "--table", SUITE])
    expected = reference.snapshot()
    reference.close()
    reference_seconds = time.monotonic() - clock

    crashed = lakes("crashed")
    crashed.killed_at(["ingest", *SOURCES, "--date", DAY1], "ingest.after_bronze_commit", env=SMALL_SLICES)
    crashed.killed_at(["ingest", *SOURCES, "--date", DAY1], "ingest.before_ledger")
    crashed.killed_at(["ingest", *SOURCES], "ingest.before_quarantine")
    crashed.ok(["ingest", *SOURCES])
    kill_during_incremental_model(crashed, ["transform", "--select", DBT_SELECTION], INCREMENTAL_MODEL)
    crashed.ok(["transform", "--select", DBT_SELECTION])
    crashed.killed_at(["validate", "--table", SUITE], "quality.after_results")
    markers = list((crashed.root / "_quality" / "runs").glob("*.started"))
    assert len(markers) == 1, "the killed quality run left its intent marker"
    crashed.ok(["validate", "--table", SUITE])
    assert not list((crashed.root / "_quality" / "runs").glob("*.started")), "the rerun reconciled the killed run"
    got = crashed.snapshot()
    print(f"reference {reference_seconds:.0f}s, crashed + reruns {time.monotonic() - clock - reference_seconds:.0f}s")

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
