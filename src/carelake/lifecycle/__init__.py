"""Data lifecycle: retention, archiving and VACUUM per table (``metadata/lifecycle.yml``), erasure of a person,
and small-file housekeeping.

``carelake lifecycle run [--dry-run]`` -> :func:`run_lifecycle`;
``carelake erase --person ... --reason ...`` -> :func:`erase_person`;
``carelake housekeeping [--dry-run]`` -> :func:`run_housekeeping`;
the ``carelake_lifecycle`` DAG runs :func:`process_erasure_requests`, :func:`run_lifecycle`, then
:func:`run_housekeeping` (and the backup).
"""

from __future__ import annotations

from carelake.lifecycle.erasure import PersonNotFound, erase_person, process_erasure_requests
from carelake.lifecycle.housekeeping import load_housekeeping, run_housekeeping
from carelake.lifecycle.retention import archive_path, load_lifecycle, run_lifecycle

__all__ = ["PersonNotFound", "archive_path", "erase_person", "erasure_step", "housekeeping_step", "lifecycle_step",
           "load_housekeeping", "load_lifecycle", "process_erasure_requests", "run_housekeeping", "run_lifecycle"]


def erasure_step(settings=None) -> list[str]:
    """The DAG's erasure task: process pending requests; one summary line per request (no identifiers)."""
    from carelake.config import load_settings
    from carelake.spark import get_spark

    settings = settings or load_settings()
    return [r.summary().splitlines()[0] for r in process_erasure_requests(get_spark(settings), settings)]


def lifecycle_step(as_of: str | None = None, settings=None, dry_run: bool = False) -> list[str]:
    """The DAG's retention task: archive, expire and vacuum per metadata/lifecycle.yml; one line per table."""
    from datetime import date

    from carelake.config import load_settings
    from carelake.spark import get_spark

    settings = settings or load_settings()
    outcomes = run_lifecycle(get_spark(settings), settings, as_of=date.fromisoformat(as_of) if as_of else None,
                             dry_run=dry_run)
    return [o.line() for o in outcomes]


def housekeeping_step(settings=None, dry_run: bool = False) -> list[str]:
    """The DAG's housekeeping task: auto compaction properties and OPTIMIZE over threshold; one line per table."""
    from carelake.config import load_settings
    from carelake.lifecycle.housekeeping import summary
    from carelake.spark import get_spark

    settings = settings or load_settings()
    outcomes = run_housekeeping(get_spark(settings), settings, dry_run=dry_run)
    return [o.line(dry_run) for o in outcomes if o.optimized or o.auto_compact_set] + [summary(outcomes, dry_run)]
