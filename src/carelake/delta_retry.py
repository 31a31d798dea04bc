"""The one retry policy for Delta writes that may race another writer on the same lake.

Two ingests (or an ingest and a quality run) may commit to the same Delta table at once. Delta's optimistic
concurrency lets one commit win; the loser raises a *conflict* that is safe to retry, because every carelake
write on these paths is idempotent (``replaceWhere`` of exactly its own rows, a keyed MERGE, ``CREATE ... IF NOT
EXISTS``, or ``mode("ignore")`` creation): doing it again after the winner's commit gives the result of one write.

Retryable (anything else is raised at once):

* ``delta.exceptions``: ConcurrentAppendException, ConcurrentDeleteReadException, ConcurrentDeleteDeleteException,
  MetadataChangedException, ConcurrentTransactionException, ProtocolChangedException (and their base
  ConcurrentWriteException / DeltaConcurrentModificationException);
* a race creating the same table or database: the Hive metastore's "already exists", Delta's
  "location is not empty" while the winner registers its new table, a Derby lock timeout in the metastore.

Policy: at most ``ATTEMPTS`` tries, exponential backoff from ``BASE_SECONDS`` doubling to ``MAX_SECONDS``, with
full jitter (two processes that collided do not collide again in lock-step). Each retry is logged on the
``carelake.delta_retry`` logger and counted in :data:`RETRIES` (a process-wide tally, for tests and reports).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from typing import Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 8
BASE_SECONDS = 0.5
MAX_SECONDS = 8.0
RETRIES: Counter = Counter()  # what -> retries done in this process

# Java class names / error classes that mark a retryable conflict (matched in the exception's text, so a
# conflict surfacing as a Py4JJavaError or a wrapped AnalysisException is recognised too)
CONFLICT_MARKERS = (
    "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
    "MetadataChangedException", "ConcurrentTransactionException", "ProtocolChangedException",
    "ConcurrentWriteException", "DELTA_CONCURRENT_",
)
CREATE_RACE_MARKERS = (
    "TABLE_OR_VIEW_ALREADY_EXISTS", "SCHEMA_ALREADY_EXISTS", "AlreadyExistsException", "already exists",
    "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "LOCATION_ALREADY_EXISTS", "DELTA_CREATE_TABLE_SCHEME_MISMATCH",
    "A lock could not be obtained",  # Derby (metastore) lock timeout under concurrent DDL
    "FileAlreadyExistsException",  # two writers racing for the same _delta_log version file
)


def is_retryable(exc: BaseException) -> bool:
    try:  # importing delta.exceptions installs the py4j conversion to these classes
        from delta.exceptions import DeltaConcurrentModificationException
    except Exception:  # pragma: no cover - delta-spark missing
        DeltaConcurrentModificationException = ()  # type: ignore[assignment]
    if DeltaConcurrentModificationException and isinstance(exc, DeltaConcurrentModificationException):
        return True
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in CONFLICT_MARKERS + CREATE_RACE_MARKERS)


def retrying(action: Callable[[], T], what: str, attempts: int = ATTEMPTS) -> T:
    """Run ``action`` (an idempotent Delta write); retry it on a conflict with bounded, jittered backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            delay = random.uniform(0, min(MAX_SECONDS, BASE_SECONDS * 2 ** (attempt - 1)))
            RETRIES[what] += 1
            first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            log.warning("retry %d/%d of %s in %.2fs after %s: %s", attempt, attempts - 1, what, delay,
                        type(exc).__name__, first_line)
            time.sleep(delay)
    raise AssertionError("unreachable")
