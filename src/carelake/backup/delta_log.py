"""What a Delta table is made of, read from its transaction log (``_delta_log``) without Spark.

A table at version ``V`` is the log files up to ``V`` (commit JSONs, checkpoints, checksums) plus
every file those commits add: data files (``add.path``), change-data files (``cdc.path``) and
deletion-vector files (``add.deletionVector`` of storage type ``u``, a path relative to the table
encoded as prefix + Z85 UUID). An incremental backup needs only what commits ``Vp+1 .. V`` added.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import unquote

LOG_DIR = "_delta_log"
_VERSIONED = re.compile(r"^(\d{20})\.(json|crc|checkpoint\.parquet|checkpoint\.\d+\.\d+\.parquet|"
                        r"checkpoint\.[0-9a-f-]+\.(?:json|parquet))$")
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_VALUE = {ch: i for i, ch in enumerate(_Z85)}


class DeltaLogError(RuntimeError):
    """A table's log cannot be read as needed (a commit missing, an absolute path outside the table)."""


def is_delta_table(folder: Path) -> bool:
    return (folder / LOG_DIR).is_dir()


def log_file_version(name: str) -> int | None:
    """The version a ``_delta_log`` file belongs to (None for ``_last_checkpoint`` and other helpers);
    Hadoop's hidden checksum of a log file (``.NNN.json.crc``) belongs to that file's version."""
    if name.startswith(".") and name.endswith(".crc"):
        name = name[1:-4]
    found = _VERSIONED.match(name)
    return int(found.group(1)) if found else None


def latest_version(table_dir: Path) -> int:
    """Highest committed version (the newest ``NNN.json``); -1 when the log holds no commit."""
    versions = [int(p.name[:20]) for p in (table_dir / LOG_DIR).glob("*.json") if p.name[:20].isdigit()]
    return max(versions, default=-1)


def z85_decode(text: str) -> bytes:
    """Z85 (ZeroMQ RFC 32), the encoding of a deletion vector's UUID in the log."""
    if len(text) % 5:
        raise ValueError(f"Z85 text length {len(text)} is not a multiple of 5")
    out = bytearray()
    for start in range(0, len(text), 5):
        value = 0
        for ch in text[start:start + 5]:
            value = value * 85 + _Z85_VALUE[ch]
        out += value.to_bytes(4, "big")
    return bytes(out)


def deletion_vector_path(descriptor: dict) -> str | None:
    """Relative path of a deletion vector's file (None when inline); absolute paths are refused."""
    kind = descriptor.get("storageType")
    if kind == "i":
        return None
    if kind == "u":
        encoded = descriptor["pathOrInlineDv"]
        prefix, code = encoded[:-20], encoded[-20:]
        name = f"deletion_vector_{uuid.UUID(bytes=z85_decode(code))}.bin"
        return f"{prefix}/{name}" if prefix else name
    raise DeltaLogError(f"deletion vector stored by absolute path ({descriptor.get('pathOrInlineDv')}): "
                        "only table-relative storage can be backed up and restored elsewhere")


def _relative(path: str, table_dir: Path) -> str:
    if "://" in path or path.startswith("/"):
        raise DeltaLogError(f"{table_dir}: the log names a file by absolute path ({path}); "
                            "a shallow clone or converted table cannot be restored to another root")
    return unquote(path)


def files_added(table_dir: Path, after_version: int, up_to_version: int) -> set[str]:
    """Table-relative paths of data, change-data and deletion-vector files added by commits
    ``after_version + 1 .. up_to_version``; raises DeltaLogError when one of those commits is missing."""
    added: set[str] = set()
    for version in range(after_version + 1, up_to_version + 1):
        commit = table_dir / LOG_DIR / f"{version:020d}.json"
        if not commit.is_file():
            raise DeltaLogError(f"{commit}: commit missing (log cleaned up since the last backup)")
        with commit.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                action = json.loads(line)
                for key in ("add", "cdc"):
                    if key in action:
                        added.add(_relative(action[key]["path"], table_dir))
                        dv = action[key].get("deletionVector")
                        if dv and (dv_path := deletion_vector_path(dv)):
                            added.add(dv_path)
    return added


def log_files_through(table_dir: Path, version: int) -> list[str]:
    """Table-relative ``_delta_log`` files that make up version ``version``: commits, checkpoints and
    checksums up to it, helper folders (v2-checkpoint sidecars), and ``_last_checkpoint`` when it
    points at a checkpoint within ``version`` (later files belong to commits after the backup's)."""
    names = []
    for path in sorted((table_dir / LOG_DIR).rglob("*")):
        if not path.is_file() or path.name.endswith(".tmp"):  # .tmp: a commit being written
            continue
        rel = path.relative_to(table_dir).as_posix()
        if path.name == "_last_checkpoint":
            try:
                pointed = json.loads(path.read_text(encoding="utf-8")).get("version", version + 1)
            except (OSError, ValueError):
                continue
            if pointed <= version:
                names.append(rel)
            continue
        found = log_file_version(path.name)
        if found is None or found <= version:
            names.append(rel)
    return names
