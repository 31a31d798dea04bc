"""A throw-away lake for a benchmark run: its own folder, catalog server port and Spark session."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_lake(workdir: Path | None, prefix: str, port: int):
    """Point carelake at ``workdir`` (a temp folder when None); yield (folder, settings); clean up after."""
    folder = workdir or Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        CARELAKE_LAKE_ROOT=str(folder / "lake"),
        CARELAKE_LANDING_ROOT=str(folder / "landing"),
        CARELAKE_METASTORE_PORT=os.environ.get("CARELAKE_METASTORE_PORT", str(port)),
        CARELAKE_ENV=os.environ.get("CARELAKE_ENV", "dev"),  # a throw-away lake: the documented dev pseudonym key
    )
    from carelake import metastore
    from carelake.config import load_settings
    from carelake.spark import stop_spark

    settings = load_settings()
    try:
        yield folder, settings
    finally:
        stop_spark()
        metastore.stop(settings)
        if workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
