"""The same pipeline on a real Spark cluster, by configuration only: equal to the local run.

A Spark standalone cluster (``carelake.cluster.StandaloneCluster``: a master and one worker from pyspark's own
``bin/spark-class``, separate JVMs, executors with their own Python workers) is started on 127.0.0.1. Then,
with nothing but environment variables changed (``CARELAKE_SPARK_MASTER=spark://…``, a lake root,
``CARELAKE_SPARK_CONF`` for the executors' memory), ``carelake run`` — ingest of the demo landing, dbt silver
(its profile follows the same configuration), the MPI, de-identification (Presidio in the executors' Python
workers), dbt gold — then validation (Great Expectations) and an analyst session (the notebooks' door) that
counts every table run against the cluster. Every bronze, silver and gold table holds the same rows as the session's
demo lake, which was built in local mode from the same landed files. The cluster is stopped by its process
groups, and its lake's metastore server too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import SMALL_DATA_SPARK_CONF

# on the cluster: validation (GX on Spark; a silver and a gold suite - every suite ran on the local demo lake), then a
# count of every table through the analysts' session (the notebooks' door)
VALIDATE_AND_COUNT = """
import json, sys
from carelake.analyst import session
from carelake.lake import list_tables
from carelake.quality import validate
lake = session(role="researcher", purpose="cluster test: table counts")
run = validate(lake.settings, lake.spark, run_id="cluster-test", tables=["stg_patients", "gold_person"])
counts = {name: lake.spark.table(name).count() for name in list_tables(lake.spark, ["bronze", "silver", "gold"])}
json.dump({"master": lake.spark.sparkContext.master, "counts": counts, "quality": run.summary()}, open(sys.argv[1], "w"))
"""
LAYERS = ("bronze", "silver", "gold")


@pytest.fixture(scope="module")
def cluster_run(settings, registry, gold, tmp_path_factory):
    """`carelake run` and a count of every table, both on a standalone cluster, into a lake of their own."""
    from carelake import metastore
    from carelake.cluster import StandaloneCluster, free_port

    work = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "CARELAKE_LAKE_ROOT": str(work / "lake"), "CARELAKE_METASTORE_PORT": str(free_port()),
           # dbt runs as an application of its own next to the pipeline's: a standalone master gives an application
           # every free core unless spark.cores.max caps it, so each gets half of the worker's
           "CARELAKE_SPARK_CONF": json.dumps({**SMALL_DATA_SPARK_CONF, "spark.executor.memory": "1g",
                                              "spark.cores.max": "2"}),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(settings.project_dir / "src"), os.environ.get("PYTHONPATH")]))}
    cluster = StandaloneCluster(work / "spark", workers=1, cores=4, memory="3g")
    try:
        env["CARELAKE_SPARK_MASTER"] = cluster.start().master_url
        # the pipeline to gold (the role views, report and dashboard that `run` adds by default are not Spark jobs
        # of their own kind, and dbt's tests passed on the same code and landing in the local demo build: both left
        # out to keep the suite short; the equal counts below are this test's check)
        run = subprocess.run([sys.executable, "-m", "carelake", "run", "--no-governance", "--no-dbt-tests"], env=env,
                             capture_output=True, text=True, timeout=2400, check=False)
        assert run.returncode == 0, f"carelake run on the cluster failed:\n{run.stdout[-6000:]}\n{run.stderr[-4000:]}"
        counted = subprocess.run([sys.executable, "-c", VALIDATE_AND_COUNT, str(work / "counts.json")], env=env,
                                 capture_output=True, text=True, timeout=900, check=False)
        assert counted.returncode == 0, counted.stderr[-4000:]
        applications = [a["name"] for a in (cluster.status() or {}).get("completedapps", [])]
    finally:
        cluster.stop()
        metastore.stop(settings.with_(lake_root=work / "lake", metastore_port=int(env["CARELAKE_METASTORE_PORT"])))
    return {"counts": json.loads((work / "counts.json").read_text()), "applications": applications,
            "stdout": run.stdout, "cluster_dir": work / "spark"}


def local_counts(spark, registry) -> dict[str, int]:
    """The session demo lake's counts, restricted to what the demo registry's sources put there (other test
    modules load sources of their own into the ingest's shared ledger and quarantine, and tables of their own)."""
    from carelake.lake import list_tables

    ids = ", ".join(f"'{s.id}'" for s in registry.sources)
    counts = {}
    for name in list_tables(spark, list(LAYERS)):
        frame = spark.table(name)
        if name in ("bronze.ingest_ledger", "bronze.quarantine"):
            frame = frame.where(f"source_id IN ({ids})")
        counts[name] = frame.count()
    return counts


def test_the_pipeline_ran_on_the_cluster(cluster_run):
    assert cluster_run["counts"]["master"].startswith("spark://127.0.0.1:")
    assert "results:" in cluster_run["counts"]["quality"]  # the validation ran there and stored its results
    # the pipeline's own session, dbt's sessions (silver, gold) and the analyst session are cluster applications
    assert len(cluster_run["applications"]) >= 3, cluster_run["applications"]
    executor_logs = list(cluster_run["cluster_dir"].glob("worker-*/app-*/*/stderr"))
    assert executor_logs, "no executor ran on the worker"


def test_cluster_run_equals_the_local_run(cluster_run, spark, registry):
    on_cluster = cluster_run["counts"]["counts"]
    local = local_counts(spark, registry)
    for layer in LAYERS:
        built = {t for t in on_cluster if t.startswith(f"{layer}.")}
        assert len(built) > 5, f"the cluster run built only {sorted(built)} in {layer}"
    missing = sorted(t for t in on_cluster if t not in local)
    assert not missing, f"tables the cluster run built that the local run did not: {missing}"
    differ = {t: (on_cluster[t], local[t]) for t in on_cluster if on_cluster[t] != local[t]}
    assert not differ, f"row counts differ (cluster, local): {differ}"
    assert on_cluster["gold.person"] > 0 and on_cluster["gold.visit_occurrence"] > 0
