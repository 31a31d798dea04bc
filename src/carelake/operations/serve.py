"""Serve the dashboard's folder on 127.0.0.1 (``carelake dashboard --serve PORT``): loopback only, read-only files."""

from __future__ import annotations

from pathlib import Path

HOST = "127.0.0.1"


def dashboard_server(page: Path, port: int):
    """An HTTP server for the page's folder (``page`` and ``dashboard.json`` beside it); port 0 picks a free one."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(Path(page).parent))
    return ThreadingHTTPServer((HOST, port), handler)


def serve(page: Path, port: int) -> None:
    """Serve the page's folder until interrupted."""
    server = dashboard_server(page, port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
