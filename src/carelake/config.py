"""Settings: where the lake lives, which Spark to use, where jars and metadata are.

Every setting has an embedded default (local Spark, a Delta lake under ``./lake``)
and can be overridden by an environment variable, so the same code runs on a
laptop, in CI and against a cluster by configuration only.

| setting            | variable                     | default                          |
|--------------------|------------------------------|----------------------------------|
| project_dir        | CARELAKE_HOME                | the repository holding metadata/ |
| lake_root          | CARELAKE_LAKE_ROOT           | <project>/lake                   |
| landing_root       | CARELAKE_LANDING_ROOT        | <project>/landing                |
| shared_dir         | CARELAKE_SHARED_DIR          | <project>/../shared              |
| spark_master       | CARELAKE_SPARK_MASTER        | local[*] (``spark://…``, ``yarn``, ``k8s://…`` = a cluster; ``sc://…`` = Spark Connect) |
| spark_conf         | CARELAKE_SPARK_CONF          | {} (JSON object of extra Spark settings, e.g. executor memory; wins over carelake's) |
| driver_memory      | CARELAKE_DRIVER_MEMORY       | 4g                               |
| shuffle_partitions | CARELAKE_SHUFFLE_PARTITIONS  | 4                                |
| ingest_slice_rows  | CARELAKE_INGEST_SLICE_ROWS   | 1000000 (records per bronze write) |
| ingest_slice_bytes | CARELAKE_INGEST_SLICE_BYTES  | 134217728 (landed bytes per bronze write; a larger file is one write) |
| metastore_port     | CARELAKE_METASTORE_PORT      | 1527                             |
| metastore_url      | CARELAKE_METASTORE_URL       | (empty: carelake's own Derby server) |
| jars_dir           | CARELAKE_JARS_DIR            | <project>/.cache/jars            |
| sources_file       | CARELAKE_REGISTRY            | <project>/metadata/sources.yml   |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find_project_dir() -> Path:
    env = os.environ.get("CARELAKE_HOME")
    if env:
        return Path(env).resolve()
    # editable install / source checkout: src/carelake -> repository root
    candidate = _PACKAGE_DIR.parent.parent
    if (candidate / "metadata").is_dir():
        return candidate
    cwd = Path.cwd().resolve()
    for parent in (cwd, *cwd.parents):
        if (parent / "metadata" / "sources.yml").is_file():
            return parent
    return cwd


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    lake_root: Path
    landing_root: Path
    shared_dir: Path
    jars_dir: Path
    ivy_dir: Path
    spark_master: str = "local[*]"
    driver_memory: str = "4g"
    shuffle_partitions: int = 4
    ingest_slice_rows: int = 1_000_000
    ingest_slice_bytes: int = 128 << 20
    metastore_port: int = 1527
    metastore_url: str = ""
    spark_conf: dict[str, str] = field(default_factory=dict)

    @property
    def metadata_dir(self) -> Path:
        return self.project_dir / "metadata"

    @property
    def sources_file(self) -> Path:
        override = os.environ.get("CARELAKE_REGISTRY")
        return Path(override).resolve() if override else self.metadata_dir / "sources.yml"

    @property
    def entities_file(self) -> Path:
        return self.metadata_dir / "entities.yml"

    @property
    def warehouse_dir(self) -> Path:
        return self.lake_root / "warehouse"

    @property
    def catalog_dir(self) -> Path:
        """Folder of the Derby metastore database (the shared catalog)."""
        return self.lake_root / "_catalog"

    @property
    def uses_own_metastore(self) -> bool:
        return not self.metastore_url and not self.is_connect

    @property
    def is_connect(self) -> bool:
        return self.spark_master.startswith("sc://")

    @property
    def is_local(self) -> bool:
        """Spark runs inside this process (``local``, ``local[n]``, ``local[*]``)."""
        return self.spark_master == "local" or self.spark_master.startswith("local[")

    @property
    def on_this_machine(self) -> bool:
        """Driver and executors all on this machine: local mode, or a cluster whose master is on loopback."""
        if self.is_local:
            return True
        host = self.spark_master.split("://", 1)[-1].split(":", 1)[0]
        return self.spark_master.startswith("spark://") and host in ("127.0.0.1", "localhost")

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def _spark_conf_env(value: str) -> dict[str, str]:
    """``CARELAKE_SPARK_CONF``: a JSON object of Spark settings, e.g. ``{"spark.executor.memory": "8g"}``."""
    import json

    if not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"CARELAKE_SPARK_CONF is not a JSON object: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError("CARELAKE_SPARK_CONF must be a JSON object of Spark settings, e.g. "
                         '{"spark.executor.memory": "8g"}')
    return {str(k): str(v) for k, v in parsed.items()}


def load_settings(**overrides) -> Settings:
    project = Path(overrides.pop("project_dir", None) or _find_project_dir())
    env = os.environ
    cache = project / ".cache"
    settings = Settings(
        project_dir=project,
        lake_root=_env_path("CARELAKE_LAKE_ROOT", project / "lake"),
        landing_root=_env_path("CARELAKE_LANDING_ROOT", project / "landing"),
        shared_dir=_env_path("CARELAKE_SHARED_DIR", (project.parent / "shared").resolve()),
        jars_dir=_env_path("CARELAKE_JARS_DIR", cache / "jars"),
        ivy_dir=_env_path("CARELAKE_IVY_DIR", cache / "ivy"),
        spark_master=env.get("CARELAKE_SPARK_MASTER", "local[*]"),
        driver_memory=env.get("CARELAKE_DRIVER_MEMORY", "4g"),
        shuffle_partitions=int(env.get("CARELAKE_SHUFFLE_PARTITIONS", "4")),
        ingest_slice_rows=int(env.get("CARELAKE_INGEST_SLICE_ROWS", "1000000")),
        ingest_slice_bytes=int(env.get("CARELAKE_INGEST_SLICE_BYTES", str(128 << 20))),
        metastore_port=int(env.get("CARELAKE_METASTORE_PORT", "1527")),
        metastore_url=env.get("CARELAKE_METASTORE_URL", ""),
        spark_conf=_spark_conf_env(env.get("CARELAKE_SPARK_CONF", "")),
    )
    return settings.with_(**overrides) if overrides else settings
