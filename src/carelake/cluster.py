"""A Spark standalone cluster on this machine: master and workers from pyspark's own ``bin/spark-class``.

carelake itself never needs a cluster: ``CARELAKE_SPARK_MASTER`` (see :mod:`carelake.config`) points every
step at any Spark master — ``local[*]`` by default, ``spark://host:7077`` (standalone), ``yarn``,
``k8s://https://…`` — with no code change (docs/scale-out.md). This module starts a *real* standalone
cluster on 127.0.0.1 for the tests, the scaling benchmark and a single-server site that wants separate
executor JVMs: ``carelake cluster start|status|stop`` or ``with StandaloneCluster(...) as cluster:``.

The master and every worker run in their own process group (``start_new_session``), logging under
``<work_dir>``; ``stop`` kills each group (executors are the workers' children) and waits for it.
State (pids, ports) is kept in ``<work_dir>/cluster.json`` so another process can stop the cluster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
STATE_FILE = "cluster.json"


def spark_home() -> Path:
    """pyspark's installation: it carries bin/spark-class and every jar a standalone daemon needs."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class ClusterState:
    master_url: str
    master_ui: str
    work_dir: str
    pids: list[int] = field(default_factory=list)  # process-group leaders: the master first, then the workers

    def save(self) -> None:
        Path(self.work_dir, STATE_FILE).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, work_dir: Path) -> ClusterState | None:
        path = Path(work_dir) / STATE_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else None


class ClusterError(RuntimeError):
    pass


class StandaloneCluster:
    """One master and ``workers`` workers on 127.0.0.1, each worker offering ``cores`` cores and ``memory``."""

    def __init__(self, work_dir: Path, workers: int = 1, cores: int = 1, memory: str = "2g",
                 daemon_memory: str = "512m", python: str | None = None):
        self.work_dir = Path(work_dir)
        self.workers, self.cores, self.memory = workers, cores, memory
        self.daemon_memory = daemon_memory
        self.python = python or sys.executable  # executors' Python: the same environment as the driver
        self.state: ClusterState | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> ClusterState:
        existing = ClusterState.load(self.work_dir)
        if existing and any(_alive(p) for p in existing.pids):
            raise ClusterError(f"a cluster started from {self.work_dir} is still running ({existing.master_url}); "
                               "stop it first (`carelake cluster stop`)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        port, ui = free_port(), free_port()
        master_url = f"spark://127.0.0.1:{port}"
        self.state = ClusterState(master_url, f"http://127.0.0.1:{ui}", str(self.work_dir))
        try:
            self.state.pids.append(self._launch("master", MASTER_CLASS,
                                                ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)]))
            self.state.save()
            self._wait(lambda status: status is not None, timeout, "the master to answer")
            for n in range(1, self.workers + 1):
                worker_dir = self.work_dir / f"worker-{n}"
                worker_dir.mkdir(exist_ok=True)
                self.state.pids.append(self._launch(
                    f"worker-{n}", WORKER_CLASS,
                    ["--host", "127.0.0.1", "--cores", str(self.cores), "--memory", self.memory,
                     "--work-dir", str(worker_dir), "--webui-port", str(free_port()), master_url]))
                self.state.save()
            self._wait(lambda status: status is not None and _alive_workers(status) >= self.workers, timeout,
                       f"{self.workers} worker(s) to register")
        except BaseException:
            self.stop()
            raise
        return self.state

    def stop(self, timeout: float = 30.0) -> None:
        state = self.state or ClusterState.load(self.work_dir)
        if state is not None:
            stop_groups(state.pids, timeout)
            Path(state.work_dir, STATE_FILE).unlink(missing_ok=True)
        self.state = None

    def __enter__(self) -> StandaloneCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what a client needs -------------------------------------------------------------------------
    @property
    def master_url(self) -> str:
        if self.state is None:
            raise ClusterError("the cluster is not started")
        return self.state.master_url

    def status(self) -> dict | None:
        return master_status(self.state.master_ui) if self.state else None

    # -- internals -----------------------------------------------------------------------------------
    def _launch(self, name: str, main_class: str, args: list[str]) -> int:
        home = spark_home()
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_DAEMON_MEMORY": self.daemon_memory, "SPARK_LOG_DIR": str(self.work_dir),
               "PYSPARK_PYTHON": self.python, "SPARK_WORKER_DIR": str(self.work_dir)}
        log = open(self.work_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen([str(home / "bin" / "spark-class"), main_class, *args], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()
        return proc.pid

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not all(_running(p) for p in self.state.pids):
                raise ClusterError(f"a cluster process exited while waiting for {what}; see the logs in {self.work_dir}")
            if ready(master_status(self.state.master_ui)):
                return
            time.sleep(0.5)
        raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}; see the logs in {self.work_dir}")


def _running(pid: int) -> bool:
    """Is the process still running? An exited child of ours is reaped (a zombie would look alive)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (e.g. started by `carelake cluster start` in another process)
        return _alive(pid)
    return done == 0


def master_status(master_ui: str) -> dict | None:
    """The master's JSON status page (workers, applications), or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"{master_ui}/json/", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def _alive_workers(status: dict) -> int:
    return sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE")


def stop_groups(pids: list[int], timeout: float = 30.0) -> None:
    """SIGTERM each process group, then SIGKILL what is left after ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5)
        while time.monotonic() < deadline and any(_running(p) for p in pids):
            time.sleep(0.2)
        if not any(_running(p) for p in pids):
            return
