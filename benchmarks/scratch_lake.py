"""A throw-away lake for a benchmark run: its own folder, catalog server port and Spark session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def measure_in_child(script: str, size: int, days: int, workdir: Path | None, extra: list[str] | None = None) -> dict:
    """Run ``script --one-size SIZE`` in a process of its own (a fresh JVM per size); its ``RESULT {json}`` line."""
    command = [sys.executable, script, "--one-size", str(size), "--days", str(days), *(extra or [])]
    if workdir:
        command += ["--workdir", str(workdir / str(size))]
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        print(proc.stdout[-3000:])
        raise SystemExit(f"size {size} failed (rc {proc.returncode})")
    return json.loads(lines[-1].removeprefix("RESULT "))
