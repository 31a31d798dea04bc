"""The one Spark + Delta session factory (local, cluster, or Spark Connect by configuration)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from carelake.config import Settings, load_settings

LAYERS = ("bronze", "silver", "gold", "quality", "audit")


def spark_conf(settings: Settings, for_cluster_executors: bool = True) -> dict[str, str]:
    """Every Spark setting carelake relies on; dbt's profile reuses the same dict."""
    from carelake import metastore
    from carelake.jars import jar_paths
    from carelake.lifecycle.housekeeping import session_conf as housekeeping_conf

    jars = jar_paths(settings)
    conf = {
        "spark.master": settings.spark_master,
        "spark.jars": f"{jars['delta']},{jars['delta_storage']},{jars['postgresql']}",
        # the catalog's JDBC drivers: carelake's Derby server, or a shared metastore database on PostgreSQL
        "spark.driver.extraClassPath": f"{jars['derbyclient']}:{jars['postgresql']}",
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(settings.warehouse_dir),
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore.jdbc_url(settings),
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": metastore.DRIVER,
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.databricks.delta.retentionDurationCheck.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.enabled": os.environ.get("CARELAKE_SPARK_UI", "false"),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.sources.partitionOverwriteMode": "static",
        # derby.log stays under the lake; carelake's log4j2 config silences known-harmless noise
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={settings.catalog_dir} "
            f"-Dlog4j2.configurationFile=file:{Path(__file__).parent / 'conf' / 'log4j2.properties'}"
        ),
    }
    if settings.on_this_machine:
        # local mode or a cluster on 127.0.0.1: nothing listens beyond loopback. A remote cluster's executors
        # must reach the driver, so there Spark picks the driver's address (or spark.driver.host is configured).
        conf["spark.driver.host"] = conf["spark.driver.bindAddress"] = "127.0.0.1"
    if not settings.is_local:
        # executors run carelake's own Python functions (Presidio redaction per partition): ship the driver's
        # code with the job so they run exactly this version (their Python needs carelake's dependencies)
        conf["spark.submit.pyFiles"] = str(package_zip(settings))
    if not settings.metastore_url:
        conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] = "APP"
        conf["spark.hadoop.javax.jdo.option.ConnectionPassword"] = "mine"
    conf.update(housekeeping_conf(settings))  # auto compaction threshold (metadata/lifecycle.yml housekeeping:)
    conf.update(settings.spark_conf)
    return conf


def package_zip(settings: Settings) -> Path:
    """The carelake package as a zip under ``<lake>/_cluster`` (named by its content hash; built once)."""
    import hashlib
    import zipfile

    package = Path(__file__).resolve().parent
    files = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    target = settings.lake_root / "_cluster" / f"carelake-{digest.hexdigest()[:16]}.zip"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, Path("carelake") / path.relative_to(package))
        partial.replace(target)
    return target


def get_spark(settings: Settings | None = None, app_name: str = "carelake"):
    """Return the session for this process (creating it on first use) with the lake's databases present."""
    from pyspark.sql import SparkSession

    settings = settings or load_settings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if settings.is_connect:
        return SparkSession.builder.remote(settings.spark_master).appName(app_name).getOrCreate()

    from carelake import metastore

    metastore.ensure_running(settings)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings.lake_root.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("CARELAKE_SPARK_LOG_LEVEL", "ERROR"))
    ensure_databases(spark, settings)
    return spark


def ensure_databases(spark, settings: Settings) -> None:
    from carelake.delta_retry import retrying

    existing = {row[0] for row in spark.sql("SHOW DATABASES").collect()}
    for layer in LAYERS:
        if layer not in existing:  # two processes starting on a new lake race here: retried (IF NOT EXISTS)
            retrying(lambda layer=layer: spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer} LOCATION '{settings.lake_root / layer}'"),
                     f"create database {layer}")


def stop_spark() -> None:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
