"""Fault injection for crash tests: ``failpoint("ingest.before_ledger")`` kills this process with SIGKILL
when that name is listed in the environment variable ``CARELAKE_FAILPOINTS`` (comma-separated).

A SIGKILL is what a power cut or the OOM killer does: no ``finally``, no ``atexit``, no flush of Spark or
Delta state. When this process leads its own process group (the crash tests start the pipeline with
``start_new_session=True``), the whole group is killed - the Spark JVM and a running dbt with it, like a
crashed machine; otherwise only this process (so a failpoint can never kill the shell or test runner that
started it). The Derby metastore server runs detached in its own session and survives, as a catalog
service on another machine would.

The variable is read once, at import: when it is unset a failpoint is one set lookup (zero cost).

Named points (see docs/crash-safety.md): ``ingest.after_bronze_commit`` (after a bronze slice's Delta
commit, other slices still to come), ``ingest.before_quarantine``, ``ingest.before_ledger``,
``quality.after_results``, ``quality.before_hooks``, ``mpi.before_map_write``, ``deidentify.between_tables``.
"""

from __future__ import annotations

import os
import signal
import sys

VARIABLE = "CARELAKE_FAILPOINTS"
_ARMED = frozenset(name.strip() for name in os.environ.get(VARIABLE, "").split(",") if name.strip())


def failpoint(name: str) -> None:
    """SIGKILL this process (its process group when it leads one) if ``name`` is armed; else nothing."""
    if name not in _ARMED:
        return
    sys.stderr.write(f"failpoint {name}: SIGKILL\n")
    sys.stderr.flush()
    sys.stdout.flush()
    if os.getpgid(0) == os.getpid():  # a session of its own (start_new_session): the crashed machine
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
