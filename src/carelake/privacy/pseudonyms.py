"""Keyed pseudonyms: HMAC-SHA256 under a secret, never a plain hash.

A plain hash of an 18-digit ID number or an MRN is reversible by enumeration (there are few of them);
an HMAC is not without the key. The key is looked up, in order:

1. the environment variable ``CARELAKE_PSEUDONYM_KEY`` (policy ``pseudonyms.env_var``);
2. under Airflow, the password (else extra ``key``) of the connection ``carelake_pseudonym_key``;
3. only when ``CARELAKE_ENV=dev`` (tests, the demo): the documented, non-secret ``pseudonyms.dev_key`` of
   metadata/privacy/deidentification.yml, with a warning.

Anything else raises :class:`PseudonymKeyMissing`: production never falls back silently.

Pseudonyms are keyed on the MPI ``person_id`` (stable across runs, shared by a person's records at every
hospital), so one person has one pseudonym everywhere; another key gives other pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

log = logging.getLogger(__name__)
DEV_ENV_VAR = "CARELAKE_ENV"


class PseudonymKeyMissing(RuntimeError):
    """No pseudonym key configured (and not in dev)."""


def _airflow_key(connection_id: str) -> str | None:
    if not (os.environ.get("AIRFLOW_CTX_DAG_ID") or os.environ.get("AIRFLOW_HOME")):
        return None
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # pragma: no cover - older Airflow
        try:
            from airflow.hooks.base import BaseHook
        except ImportError:
            return None
    try:
        connection = BaseHook.get_connection(connection_id)
    except Exception:  # noqa: BLE001 - "not defined" is an AirflowNotFoundException, or a missing DB outside a task
        return None
    return connection.password or (connection.extra_dejson or {}).get("key")


def pseudonym_key(policy: dict) -> bytes:
    """The secret (see the module doc); raises :class:`PseudonymKeyMissing` when there is none."""
    config = policy["pseudonyms"]
    key = os.environ.get(config["env_var"]) or _airflow_key(config["airflow_connection"])
    if key:
        return key.encode("utf-8")
    if os.environ.get(DEV_ENV_VAR) == "dev":
        log.warning("%s is not set: using the documented dev pseudonym key (CARELAKE_ENV=dev)", config["env_var"])
        return config["dev_key"].encode("utf-8")
    raise PseudonymKeyMissing(
        f"no pseudonym key: set the environment variable {config['env_var']} or the Airflow connection "
        f"{config['airflow_connection']!r} (password = the key); CARELAKE_ENV=dev uses a non-secret dev key")


def keyed_digest(key: bytes, kind: str, value) -> str:
    """Hex HMAC-SHA256 of ``kind:value``."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def person_pseudonym(key: bytes, person_id: int, policy: dict) -> str:
    config = policy["pseudonyms"]
    return config["prefix"] + keyed_digest(key, "person", person_id)[: config["length"]].upper()


def date_shift_days(key: bytes, person_id: int, max_days: int) -> int:
    """A per-person offset in [-max_days, max_days] without 0, deterministic under the key."""
    value = int(keyed_digest(key, "date-shift", person_id)[:8], 16) % (2 * max_days)
    return value - max_days if value < max_days else value - max_days + 1
