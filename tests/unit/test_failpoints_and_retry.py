"""carelake.failpoints (a named point SIGKILLs its process only when armed) and carelake.delta_retry (which errors
are retried, how often, and that an idempotent action's result comes back)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import carelake
from carelake import delta_retry

SRC = str(Path(carelake.__file__).resolve().parents[1])
SCRIPT = "from carelake.failpoints import failpoint; failpoint('a.b'); print('survived', flush=True)"


def _run(armed: str | None, new_session: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CARELAKE_FAILPOINTS"}
    env["PYTHONPATH"] = SRC
    if armed is not None:
        env["CARELAKE_FAILPOINTS"] = armed
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60,
                          start_new_session=new_session)


@pytest.mark.parametrize("new_session", [True, False])
def test_an_armed_failpoint_kills_its_process(new_session):
    proc = _run("x.y, a.b", new_session)
    assert proc.returncode == -signal.SIGKILL and "survived" not in proc.stdout
    assert "failpoint a.b: SIGKILL" in proc.stderr


@pytest.mark.parametrize("armed", [None, "", "a.c,b"])
def test_an_unarmed_failpoint_does_nothing(armed):
    proc = _run(armed, True)
    assert proc.returncode == 0 and proc.stdout.strip() == "survived"


def test_conflicts_are_retried_until_the_write_succeeds(monkeypatch):
    from delta.exceptions import ConcurrentAppendException

    monkeypatch.setattr(delta_retry, "BASE_SECONDS", 0.001)
    calls = []

    def write():
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentAppendException(message="Files were added by a concurrent update")
        return "written"

    assert delta_retry.retrying(write, "unit write") == "written" and len(calls) == 3
    assert delta_retry.RETRIES["unit write"] == 2


def test_retries_are_bounded_and_other_errors_are_not_retried(monkeypatch):
    from delta.exceptions import MetadataChangedException

    monkeypatch.setattr(delta_retry, "BASE_SECONDS", 0.001)
    calls = []

    def conflict():
        calls.append(1)
        raise MetadataChangedException(message="metadata changed")

    with pytest.raises(MetadataChangedException):
        delta_retry.retrying(conflict, "always conflicting", attempts=4)
    assert len(calls) == 4

    def broken():
        calls.append(1)
        raise ValueError("a bug, not a conflict")

    calls.clear()
    with pytest.raises(ValueError):
        delta_retry.retrying(broken, "broken")
    assert len(calls) == 1
    assert delta_retry.is_retryable(RuntimeError("[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table bronze.x"))
    assert not delta_retry.is_retryable(RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] bronze.x"))
