"""Crash safety of a quality run: an intent marker written first, removed last, and reconciled on start.

``validate`` writes several Delta tables one after another (results, scores, failed_rows, then the hooks'
daily_metrics, anomalies, results of level anomaly, alerts). Each write is atomic, the run is not: a run
killed half-way would leave some tables with its rows and others without, and the rerun (a new run id)
would add a second, complete run beside the half one - the tables would differ from a clean run.

So a run is bracketed by a marker file ``<lake>/_quality/runs/<run_id>.started``:

1. on start, under the lake's quality lock (below), every marker left by an earlier run is a run that did
   not finish: its rows are deleted (``DELETE ... WHERE run_id = ...``) from every quality table that carries
   ``run_id`` (:data:`RUN_TABLES`), then its marker is removed;
2. the run writes its marker (fsync'd), then its tables;
3. the run removes its marker as its very last step.

``daily_metrics`` has no run id: it is a keyed MERGE of values recomputed from the lake, so a rerun rewrites
the same rows (only ``computed_at`` differs). Runs finished before markers existed have none and are never
touched. A rerun with the same ``--run-id`` also works: its rows are deleted first, then written again.

The lock is an exclusive ``flock`` on ``<lake>/_quality/validate.lock`` held for the whole run: quality runs on
one lake are serialised (so a running run's marker is never mistaken for a dead one), and the kernel releases
the lock of a killed process. (For a lake shared by several machines this needs a lock service instead; the
marker protocol stays the same.)
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from carelake.delta_retry import retrying
from carelake.quality import tables as qt

# the quality tables whose rows belong to one run (column run_id)
RUN_TABLES = (qt.RESULTS, qt.SCORES, qt.FAILED_ROWS, qt.ANOMALIES, qt.ALERTS)


def markers_dir(settings) -> Path:
    return settings.lake_root / "_quality" / "runs"


@contextmanager
def quality_lock(settings):
    """Hold the lake's quality lock (exclusive, blocking) for the duration of the block."""
    path = settings.lake_root / "_quality" / "validate.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def unfinished_runs(settings) -> list[str]:
    folder = markers_dir(settings)
    return sorted(p.name.removesuffix(".started") for p in folder.glob("*.started")) if folder.is_dir() else []


def reconcile(spark, settings) -> list[str]:
    """Delete the rows of every unfinished run (a marker without its run) from the quality tables; the run ids."""
    runs = unfinished_runs(settings)
    for run_id in runs:
        quoted = run_id.replace("'", "''")
        for table in RUN_TABLES:
            if spark.catalog.tableExists(table):
                retrying(lambda table=table: spark.sql(f"DELETE FROM {table} WHERE run_id = '{quoted}'"), f"reconcile {table}")
        (markers_dir(settings) / f"{run_id}.started").unlink(missing_ok=True)
    return runs


def mark_started(settings, run_id: str) -> None:
    folder = markers_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.started"
    with open(path, "w") as handle:
        handle.write(run_id)
        handle.flush()
        os.fsync(handle.fileno())
    _fsync_dir(folder)


def mark_finished(settings, run_id: str) -> None:
    (markers_dir(settings) / f"{run_id}.started").unlink(missing_ok=True)
    _fsync_dir(markers_dir(settings))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
