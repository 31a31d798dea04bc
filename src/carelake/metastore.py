"""The shared catalog: a Hive metastore in a Derby database under the lake root,
served by a Derby *network* server on 127.0.0.1 that carelake starts and stops.

Embedded Derby admits one process at a time, so dbt, Airflow tasks and a
notebook could not use the catalog together; the network server lets them.
The database is addressed by its absolute path, so one server can serve
several lakes without mixing their catalogs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from carelake.config import Settings
from carelake.jars import derby_server_classpath

DRIVER = "org.apache.derby.jdbc.ClientDriver"


def jdbc_url(settings: Settings) -> str:
    if settings.metastore_url:
        return settings.metastore_url
    db = settings.catalog_dir / "metastore"
    return f"jdbc:derby://127.0.0.1:{settings.metastore_port}/{db};create=true"


def _pid_file(settings: Settings) -> Path:
    return settings.catalog_dir / f"derby-server-{settings.metastore_port}.pid"


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_running(settings: Settings, timeout: float = 60.0) -> bool:
    """Start the Derby network server unless one already listens; return True if started now."""
    if not settings.uses_own_metastore or is_listening(settings.metastore_port):
        return False
    settings.catalog_dir.mkdir(parents=True, exist_ok=True)
    log = open(settings.catalog_dir / "derby-server.log", "ab")
    cmd = [
        "java",
        f"-Dderby.system.home={settings.catalog_dir}",
        "-Dderby.drda.startNetworkServer=false",
        "-cp",
        derby_server_classpath(settings),
        "org.apache.derby.drda.NetworkServerControl",
        "start",
        "-h",
        "127.0.0.1",
        "-p",
        str(settings.metastore_port),
        "-noSecurityManager",
    ]
    # Detached twice (a shell that backgrounds java and exits): the server is nobody's child, so a
    # supervisor that reaps its children (an Airflow task runner, a notebook kernel) cannot take it down.
    pid_file = _pid_file(settings)
    pid_file.unlink(missing_ok=True)
    launcher = 'exec 0</dev/null; "$@" & echo $! > "$PIDFILE"'
    subprocess.run(["sh", "-c", launcher, "sh", *cmd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                   env={**os.environ, "PIDFILE": str(pid_file)}, check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(settings.metastore_port):
            return True
        if pid_file.is_file() and not _alive(int(pid_file.read_text().strip() or 0)):
            if is_listening(settings.metastore_port):  # another process won the race
                return False
            raise RuntimeError(f"Derby metastore server exited; see {settings.catalog_dir / 'derby-server.log'}")
        time.sleep(0.2)
    raise RuntimeError(f"Derby metastore server did not listen on 127.0.0.1:{settings.metastore_port} within {timeout:.0f}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return pid > 0


def stop(settings: Settings, timeout: float = 20.0) -> bool:
    """Stop the server this lake started (by its pid file); return True if one was stopped."""
    pid_file = _pid_file(settings)
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink(missing_ok=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def status(settings: Settings) -> str:
    pid_file = _pid_file(settings)
    pid = pid_file.read_text().strip() if pid_file.is_file() else "?"
    if not settings.uses_own_metastore:
        return f"external metastore: {settings.metastore_url or 'Spark Connect server catalog'}"
    state = "listening" if is_listening(settings.metastore_port) else "stopped"
    return f"Derby metastore on 127.0.0.1:{settings.metastore_port} {state} (pid {pid}); database {jdbc_url(settings)}"
