"""Shared fixtures: one lake, one Derby catalog server and one Spark session per test run.

The demo lake (generated hospitals + the real samples in ../shared) is built once
per session; tests read it. Tests that need their own sources use their own
registry files and source ids, so they never disturb the demo tables.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# September and October 2026: the monthly quality report needs a month and the month before it
# and one planted volume drop for the anomaly level: h02_dongcheng loses all new visits 2026-10-12 .. 10-21
DEMO_GENERATION = dict(hospitals=4, patients=120, days=61, start_date="2026-09-01", seed=7,
                       volume_drops={"h02_dongcheng": ("2026-10-12", 10, 0.0)})
# Spark settings for the tests' small data (CARELAKE_SPARK_CONF, so dbt's and the CLI subprocesses' sessions get them
# too): compiling whole-stage code and re-planning adaptively cost more CPU than they save on a few thousand rows
# (measured: dbt's silver build of the demo lake 195 s -> 169 s). Results do not depend on either.
SMALL_DATA_SPARK_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"}


def pytest_collection_modifyitems(items):
    """Test modules that change the demo lake (``CHANGES_DEMO_LAKE = True``, e.g. a daily load) run after all others;
    a module that removes data others rely on (archive, erasure) says ``CHANGES_DEMO_LAKE = 2`` and runs last."""
    items.sort(key=lambda item: int(getattr(getattr(item, "module", None), "CHANGES_DEMO_LAKE", 0)))


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
        "CARELAKE_SPARK_CONF": json.dumps(SMALL_DATA_SPARK_CONF),
        "CARELAKE_ENV": "dev",  # the documented dev pseudonym key (metadata/privacy/deidentification.yml)
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
def onboarded_source(settings, tmp_path_factory):
    """A hospital onboarded by configuration only (tests/onboarding_hospital.py): its files land in the demo landing,
    `suggest` proposes its entry, the reviewed entry joins the demo registry (CARELAKE_REGISTRY, so dbt and the CLI
    see it too) - all before the demo ingest, so the one demo silver/gold build carries it."""
    from types import SimpleNamespace

    import yaml
    from onboarding_hospital import SOURCE_ID, accepted_entry, write_hospital

    from carelake.onboarding.suggest import suggest
    from carelake.registry import load_registry

    written = write_hospital(settings.landing_root)
    proposal = suggest(written.folder.parent, SOURCE_ID, load_registry(settings), settings)
    entry = accepted_entry(proposal.entry())
    raw = yaml.safe_load(settings.sources_file.read_text(encoding="utf-8"))
    path = tmp_path_factory.mktemp("registry") / "sources.yml"
    path.write_text(yaml.safe_dump({**raw, "sources": [*raw["sources"], entry]}, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    saved = os.environ.get("CARELAKE_REGISTRY")
    os.environ["CARELAKE_REGISTRY"] = str(path)
    yield SimpleNamespace(written=written, proposal=proposal, entry=entry, registry_file=path)
    if saved is None:
        os.environ.pop("CARELAKE_REGISTRY", None)
    else:
        os.environ["CARELAKE_REGISTRY"] = saved


@pytest.fixture(scope="session")
def registry(settings, onboarded_source):
    from carelake.registry import load_registry

    return load_registry(settings)


@pytest.fixture(scope="session")
def demo_extracts(settings):
    """The demo extracts with their ground truth: 4 hospitals, two months of daily files (quality history)."""
    from carelake.generate import generate

    return generate(settings.landing_root, **DEMO_GENERATION)


@pytest.fixture(scope="session")
def demo_lake(spark, settings, registry, demo_extracts):
    """Bronze built once from the generated hospitals and the real samples; returns the ingest report."""
    from carelake.ingest import ingest

    return ingest(settings, registry, spark=spark)


@pytest.fixture(scope="session")
def silver(settings, spark, demo_lake):
    """dbt silver (seeds, staging, intermediate) built once on the demo lake."""
    from carelake.transform import SILVER_SELECTION, build

    result = build(settings, SILVER_SELECTION)
    assert result.success, result.summary()
    return result


@pytest.fixture(scope="session")
def gold(settings, spark, silver):
    """The MPI, de-identification (pseudonyms, redacted notes), then dbt gold (OMOP + master data), built once."""
    from carelake.transform import GOLD_SELECTION, build, run_deidentify, run_mpi

    mpi_summary = run_mpi(settings, spark) + "\n" + run_deidentify(settings, spark)
    result = build(settings, GOLD_SELECTION)
    assert result.success, mpi_summary + "\n" + result.summary()
    return result


@pytest.fixture(scope="session")
def quality_run(settings, spark, gold):
    """One `carelake validate` run (all suites) on the demo lake: quality.results, scores, failed_rows, Data Docs."""
    from carelake.quality import validate

    return validate(settings, spark, run_id="test-quality-run")


def run_dag(dagbag, dag_id: str, interval_start: str | None = None):
    """``dag.test()`` of one DAG in-process; returns the DagRun.

    For a time-scheduled DAG, the run of the data interval that starts at ``interval_start``
    (YYYY-MM-DD): Airflow runs an interval once it has ended, and ``dag.test`` infers the last
    complete interval before the date it is given, so it is given the interval's end.
    """
    import pendulum

    dag = dagbag.get_dag(dag_id)
    if interval_start is None:
        return dag.test()
    return dag.test(logical_date=dag.timetable._get_next(pendulum.parse(interval_start, tz="UTC")))


@pytest.fixture(scope="session")
def airflow_dags(lake_env):
    """A throw-away AIRFLOW_HOME (migrated SQLite) and the DagBag of ./dags, for in-process `dag.test()` runs."""
    import subprocess
    import sys

    from carelake.orchestration import airflow_env

    os.environ["CARELAKE_AIRFLOW_HOME"] = str(lake_env / "airflow")
    os.environ.update(airflow_env())
    proc = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=os.environ.copy(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))
