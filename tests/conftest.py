"""Shared fixtures: one lake, one Derby catalog server and one Spark session per test run.

The demo lake (generated hospitals + the real samples in ../shared) is built once
per session; tests read it. Tests that need their own sources use their own
registry files and source ids, so they never disturb the demo tables.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def lake_env(tmp_path_factory):
    """Point carelake (and any subprocess it starts) at a throw-away lake and landing folder."""
    base = tmp_path_factory.mktemp("carelake")
    env = {
        "CARELAKE_HOME": str(REPO),
        "CARELAKE_LAKE_ROOT": str(base / "lake"),
        "CARELAKE_LANDING_ROOT": str(base / "landing"),
        "CARELAKE_METASTORE_PORT": str(_free_port()),
        "CARELAKE_DRIVER_MEMORY": os.environ.get("CARELAKE_DRIVER_MEMORY", "3g"),
        "CARELAKE_SHUFFLE_PARTITIONS": "2",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def settings(lake_env):
    from carelake.config import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def spark(settings):
    from carelake import metastore
    from carelake.spark import get_spark

    session = get_spark(settings, app_name="carelake-tests")
    yield session
    session.stop()
    metastore.stop(settings)


@pytest.fixture(scope="session")
def registry(settings):
    from carelake.registry import load_registry

    return load_registry(settings)


@pytest.fixture(scope="session")
def demo_extracts(settings):
    """The default demo extracts (4 hospitals) with their ground truth."""
    from carelake.generate import generate

    return generate(settings.landing_root, hospitals=4, patients=120, days=2, seed=7)


@pytest.fixture(scope="session")
def demo_lake(spark, settings, registry, demo_extracts):
    """Bronze built once from the generated hospitals and the real samples; returns the ingest report."""
    from carelake.ingest import ingest

    return ingest(settings, registry, spark=spark)
