"""Data lifecycle: retention, archiving and VACUUM per table (``metadata/lifecycle.yml``), and erasure of a person.

``carelake lifecycle run [--dry-run]`` -> :func:`run_lifecycle`;
``carelake erase --person ... --reason ...`` -> :func:`erase_person`;
the ``carelake_lifecycle`` DAG runs :func:`process_erasure_requests` then :func:`run_lifecycle`.
"""

from __future__ import annotations

from carelake.lifecycle.erasure import PersonNotFound, erase_person, process_erasure_requests
from carelake.lifecycle.retention import archive_path, load_lifecycle, run_lifecycle

__all__ = ["PersonNotFound", "archive_path", "erase_person", "erasure_step", "lifecycle_step", "load_lifecycle",
           "process_erasure_requests", "run_lifecycle"]


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
