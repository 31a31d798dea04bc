"""A throw-away lake driven through the ``carelake`` CLI in subprocesses (crash and concurrency tests).

Each :class:`ProcessLake` has its own lake root, landing folder and Derby metastore port, never the session's
demo lake. Subprocesses get ``PYTHONPATH`` = the source folder of the ``carelake`` package this test imports and
``CARELAKE_HOME`` = its project folder, so a worktree tests its own code. Every subprocess starts a session of its
own (``start_new_session=True``): a failpoint's SIGKILL then takes the whole process group (the Spark JVM, a
running dbt) like a crashed machine, and the test can ``killpg`` it too. :meth:`ProcessLake.close` stops the
lake's Derby server (``carelake metastore stop``).

:meth:`ProcessLake.snapshot` runs ``lake_snapshot.py`` in a subprocess (one Spark session per lake and process)
and returns per table row count and content hash, ignoring only the per-run columns of :data:`PER_RUN_COLUMNS`,
plus the ledger/bronze balance facts the tests assert; given commands, it runs them first in that same process
(a clean reference run in one process start). :meth:`ProcessLake.start_snapshot` does so in the background.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import carelake
from carelake.config import load_settings
from conftest import SMALL_DATA_SPARK_CONF

SRC_DIR = Path(carelake.__file__).resolve().parents[1]
SNAPSHOT_SCRIPT = Path(__file__).with_name("lake_snapshot.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record(log: Path, header: str, out: str, err: str) -> None:
    """Append one command's line and the tails of its output to the lake's ``commands.log``."""
    with log.open("a") as handle:
        handle.write(f"$ {header}\n{out[-3000:]}\n{err[-3000:]}\n")


class ProcessLake:
    def __init__(self, base: Path, landing: Path):
        self.base = Path(base)
        self.root = self.base / "lake"
        self.landing = Path(landing)
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("CARELAKE_", "PYSPARK_", "SPARK_", "DBT_")) and k != "PYTHONPATH"}
        python_path = os.pathsep.join([str(SRC_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env = {
            **inherited,
            "PYTHONPATH": python_path,
            "CARELAKE_HOME": str(load_settings().project_dir),
            "CARELAKE_LAKE_ROOT": str(self.root),
            "CARELAKE_LANDING_ROOT": str(self.landing),
            "CARELAKE_METASTORE_PORT": str(free_port()),
            "CARELAKE_DRIVER_MEMORY": "1g",
            "CARELAKE_SHUFFLE_PARTITIONS": "2",
            "CARELAKE_SPARK_MASTER": "local[2]",
            "CARELAKE_SPARK_CONF": json.dumps(SMALL_DATA_SPARK_CONF),
            "CARELAKE_ENV": "dev",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",
        }
        self.log = self.base / "commands.log"

    def command(self, args: list[str], failpoints: tuple[str, ...] = (), env: dict | None = None) -> tuple[list[str], dict]:
        env = {**self.env, **(env or {})}
        if failpoints:
            env["CARELAKE_FAILPOINTS"] = ",".join(failpoints)
        return [sys.executable, "-m", "carelake", *args], env

    def run(self, args: list[str], failpoints: tuple[str, ...] = (), timeout: float = 900,
            env: dict | None = None) -> subprocess.CompletedProcess:
        cmd, env = self.command(args, failpoints, env)
        clock = time.monotonic()
        proc = subprocess.run(cmd, env=env, cwd=self.base, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
        record(self.log, f"{' '.join(args)} {failpoints} -> rc {proc.returncode} in {time.monotonic() - clock:.1f}s",
               proc.stdout, proc.stderr)
        return proc

    def start(self, args: list[str], failpoints: tuple[str, ...] = ()) -> subprocess.Popen:
        return self._popen(*self.command(args, failpoints))

    def _popen(self, cmd: list[str], env: dict) -> subprocess.Popen:
        """``cmd`` in the background, in a session of its own (its process group can be killed), output captured."""
        return subprocess.Popen(cmd, env=env, cwd=self.base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)

    def ok(self, args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
        proc = self.run(args, timeout=timeout)
        assert proc.returncode == 0, f"carelake {' '.join(args)} failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        return proc

    def killed_at(self, args: list[str], failpoint: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run with ``failpoint`` armed; assert the process died by SIGKILL exactly there."""
        proc = self.run(args, failpoints=(failpoint,), timeout=timeout, env=env)
        assert proc.returncode == -signal.SIGKILL and f"failpoint {failpoint}: SIGKILL" in proc.stderr, (
            f"expected a SIGKILL at {failpoint}, got rc {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def snapshot(self, commands: tuple[str, ...] = (), timeout: float = 900) -> dict:
        """Run ``commands`` (``carelake`` command lines), then snapshot the lake, all in one subprocess."""
        return self.start_snapshot(commands).result(timeout)

    def start_snapshot(self, commands: tuple[str, ...] = ()) -> "RunningSnapshot":
        """:meth:`snapshot` started in the background; ``.result()`` waits for it."""
        return RunningSnapshot(self._popen([sys.executable, str(SNAPSHOT_SCRIPT), *commands], self.env), self.log, commands)

    def close(self) -> None:
        subprocess.run([sys.executable, "-m", "carelake", "metastore", "stop"], env=self.env, cwd=self.base,
                       capture_output=True, timeout=60)


class RunningSnapshot:
    """A ``lake_snapshot.py`` process started by :meth:`ProcessLake.start_snapshot`."""

    def __init__(self, proc: subprocess.Popen, log: Path, commands: tuple[str, ...]):
        self.proc, self.log, self.commands, self.seconds = proc, log, commands, None

    def result(self, timeout: float = 900) -> dict:
        """The snapshot (``seconds``: how long its process took, imports to JSON)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        record(self.log, f"snapshot after {list(self.commands)} -> rc {self.proc.returncode}", out, err)
        assert self.proc.returncode == 0, f"snapshot failed:\n{out[-3000:]}\n{err[-4000:]}"
        snapshot = json.loads(out.strip().splitlines()[-1])
        self.seconds = snapshot.pop("seconds")
        return snapshot
