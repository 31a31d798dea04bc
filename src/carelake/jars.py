"""The JVM jars carelake needs beyond pyspark's own: Delta Lake, the Derby network client/server and
the JDBC drivers of the database sources (PostgreSQL; MySQL / SQL Server drivers are added the same way).

They are resolved once from Maven Central by Spark's own Ivy (into a project-local
Ivy folder) and copied into ``.cache/jars``; every later run reads them from there
and needs no network. ``carelake setup`` (and ``make setup``) does the resolution.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from carelake.config import Settings

DERBY_VERSION = "10.16.1.1"  # the version pyspark ships (derby, derbyshared, derbytools)
POSTGRESQL_JDBC = "org.postgresql:postgresql:42.7.14"  # `jdbc` sources (metadata/sources.yml) on PostgreSQL


def delta_coordinate() -> str:
    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def maven_coordinates() -> list[str]:
    return [
        delta_coordinate(),
        f"org.apache.derby:derbynet:{DERBY_VERSION}",
        f"org.apache.derby:derbyclient:{DERBY_VERSION}",
        POSTGRESQL_JDBC,
    ]


def _ivy_name(coordinate: str) -> str:
    org, artifact, rev = coordinate.split(":")
    return f"{org}_{artifact}-{rev}.jar"


def _wanted() -> dict[str, str]:
    """role -> jar file name in jars_dir."""
    delta = delta_coordinate()
    rev = delta.rsplit(":", 1)[1]
    return {
        "delta": _ivy_name(delta),
        "delta_storage": _ivy_name(f"io.delta:delta-storage:{rev}"),
        "derbynet": _ivy_name(f"org.apache.derby:derbynet:{DERBY_VERSION}"),
        "derbyclient": _ivy_name(f"org.apache.derby:derbyclient:{DERBY_VERSION}"),
        "postgresql": _ivy_name(POSTGRESQL_JDBC),
    }


class JarsMissing(RuntimeError):
    pass


def jar_paths(settings: Settings) -> dict[str, Path]:
    """Paths of the resolved jars; raise JarsMissing with the fix when absent."""
    paths = {role: settings.jars_dir / name for role, name in _wanted().items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise JarsMissing(
            f"Delta/Derby jars not found in {settings.jars_dir} ({', '.join(missing)}). "
            "Resolve them once with network access: `make setup` or `carelake setup`."
        )
    return paths


def pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


def derby_server_classpath(settings: Settings) -> str:
    jars = jar_paths(settings)
    bundled = pyspark_jars_dir()
    parts = [jars["derbynet"], jars["derbyclient"]] + sorted(bundled.glob(f"derby*-{DERBY_VERSION}.jar"))
    return ":".join(str(p) for p in parts)


_RESOLVE_SCRIPT = """
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").appName("carelake-resolve-jars")
         .config("spark.jars.packages", sys.argv[1]).config("spark.jars.ivy", sys.argv[2])
         .config("spark.ui.enabled", "false").getOrCreate())
spark.stop()
"""


def resolve(settings: Settings, quiet: bool = False) -> dict[str, Path]:
    """Resolve the jars from Maven Central (once) and copy them into ``settings.jars_dir``."""
    try:
        return jar_paths(settings)
    except JarsMissing:
        pass
    settings.ivy_dir.mkdir(parents=True, exist_ok=True)
    settings.jars_dir.mkdir(parents=True, exist_ok=True)
    env = {"SPARK_LOCAL_IP": "127.0.0.1", **_inherit_env()}
    proc = subprocess.run(
        [sys.executable, "-c", _RESOLVE_SCRIPT, ",".join(maven_coordinates()), str(settings.ivy_dir)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise JarsMissing(f"could not resolve {', '.join(maven_coordinates())} from Maven Central:\n{tail}")
    ivy_jars = settings.ivy_dir / "jars"
    for name in _wanted().values():
        source = ivy_jars / name
        if not source.is_file():
            raise JarsMissing(f"Ivy resolved, but {source} is missing")
        shutil.copy2(source, settings.jars_dir / name)
    if not quiet:
        print(f"jars ready in {settings.jars_dir}")
    return jar_paths(settings)


def _inherit_env() -> dict[str, str]:
    import os

    return dict(os.environ)
