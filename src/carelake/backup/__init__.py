"""Backup and restore of the whole lake: Delta tables (files and logs), other lake files and the catalog.

``carelake backup [--kind auto|full|incremental]`` -> :func:`take_recorded_backup` (:func:`take_backup`, with its run
recorded in ``ops.pipeline_runs``: the record lands after the manifest, so the next backup carries it);
``carelake restore [--backup ID] [--to LAKE_ROOT]`` -> :func:`restore_lake` (in its own process);
the ``carelake_lifecycle`` DAG runs :func:`backup_step` after retention. Policy: the ``backup:``
section of ``metadata/lifecycle.yml``.
"""

from __future__ import annotations

from carelake.backup.backup import BackupPolicy, load_backup_policy, prune, take_backup
from carelake.backup.manifest import Manifest, backups_in
from carelake.backup.restore import RestoreError, RestoreReport, choose_backup, restore_lake, verify_backup
from carelake.operations.runs import StepOutcome, recorded

__all__ = ["BackupPolicy", "Manifest", "RestoreError", "RestoreReport", "backup_step", "backups_in", "choose_backup",
           "load_backup_policy", "prune", "restore_lake", "take_backup", "take_recorded_backup", "verify_backup"]

take_recorded_backup = recorded("backup", outcome=lambda manifest: StepOutcome(rows=len(manifest.files)))(take_backup)


def backup_step(settings=None, kind: str = "auto") -> str:
    """The lifecycle DAG's backup task: back up the lake (full or incremental by policy); one summary line."""
    from carelake.config import load_settings
    from carelake.spark import get_spark

    settings = settings or load_settings()
    return take_recorded_backup(get_spark(settings), settings, kind=kind).summary()
