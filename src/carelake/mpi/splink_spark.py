"""Splink on carelake's Spark session: the similarity UDF jar and the lineage-breaking folder.

Splink's Spark backend needs two things the shared session does not set up:

* its Scala UDF jar (``jaro_winkler`` and friends) — Splink registers the
  functions with ``registerJavaFunction``, which only works when the jar is on
  the classpath. The jar ships inside the splink wheel; ``ADD JAR`` at run
  time puts it on the session's class loader (no need to restart the session
  or to touch ``spark.jars``).
* a checkpoint folder: its default ``break_lineage_method="parquet"`` writes
  intermediate tables (blocked pairs, predictions, clusters) under
  ``SparkContext.getCheckpointDir()`` and fails when none is set. When the
  session has none we set ``<lake>/_tmp/checkpoints``; Splink's folders there
  are deleted after each run.

Spark Connect sessions have no SparkContext: there the jar must be on the
server's classpath and the checkpoint dir set server-side.
"""

from __future__ import annotations

import logging
import shutil
from contextlib import contextmanager
from pathlib import Path

_JAR_CONF = "carelake.mpi.splinkJarAdded"


def ensure_similarity_udfs(spark) -> None:
    from splink.backends.spark import similarity_jar_location

    if spark.conf.get(_JAR_CONF, "false") == "true":
        return
    spark.sql(f"ADD JAR '{similarity_jar_location()}'")
    spark.conf.set(_JAR_CONF, "true")


@contextmanager
def splink_db_api(spark, settings):
    """A SparkAPI for one MPI run; Splink's intermediate parquet is deleted on exit."""
    from splink.backends.spark import SparkAPI

    ensure_similarity_udfs(spark)
    for name in ("splink", "py4j"):
        logging.getLogger(name).setLevel(logging.WARNING)
    sc = spark.sparkContext
    if sc._jsc.sc().getCheckpointDir().isEmpty():
        folder = Path(settings.lake_root) / "_tmp" / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        sc.setCheckpointDir(str(folder))
    checkpoint_dir = sc._jsc.sc().getCheckpointDir().get()
    partitions = max(2, int(spark.conf.get("spark.sql.shuffle.partitions")))
    db_api = SparkAPI(spark_session=spark, break_lineage_method="parquet", num_partitions_on_repartition=partitions)
    try:
        yield db_api
    finally:
        _remove_splink_outputs(checkpoint_dir)


def _remove_splink_outputs(checkpoint_dir: str) -> None:
    """Delete ``__splink__*`` folders Splink wrote below a local checkpoint dir."""
    if checkpoint_dir.startswith("file:"):
        checkpoint_dir = checkpoint_dir[len("file:"):]
    elif "://" in checkpoint_dir:
        return  # remote storage: left to the cluster's retention
    folder = Path(checkpoint_dir)
    if folder.is_dir():
        for child in folder.glob("__splink__*"):
            shutil.rmtree(child, ignore_errors=True)
