"""A backup's manifest: every file of the lake at backup time with its checksum and the backup holding its bytes.

Layout of the backup location (a folder standing in for object storage)::

    <backups>/<backup_id>/manifest.json      written last: a folder without it is an unfinished backup
    <backups>/<backup_id>/files/<path>       the bytes this backup copied (path relative to the lake root)

A full backup copies every file. An incremental one copies only what changed since its parent and
lists the rest with ``stored_in`` = the (older) backup that holds them, so every manifest describes
the whole lake and a restore needs only the manifest it restores and the backups it names.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
FILES = "files"
_CHUNK = 1 << 20


@dataclass
class FileEntry:
    size: int
    sha256: str
    mtime_ns: int
    stored_in: str


@dataclass
class TableEntry:
    """A Delta table (folder relative to the lake root) at the version the backup holds."""
    version: int
    rows: int
    name: str | None = None  # its catalog name (None: a path-only table such as an archive)


@dataclass
class Manifest:
    backup_id: str
    kind: str  # full | incremental
    parent: str | None
    created_at: str
    lake_root: str
    files: dict[str, FileEntry] = field(default_factory=dict)
    tables: dict[str, TableEntry] = field(default_factory=dict)
    catalog: dict = field(default_factory=dict)
    copied_files: int = 0
    copied_bytes: int = 0
    seconds: float = 0.0

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files.values())

    def write(self, backups: Path) -> Path:
        folder = backups / self.backup_id
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)  # atomic: the backup exists once its manifest does
        return folder / MANIFEST

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        doc["files"] = {k: FileEntry(**v) for k, v in doc["files"].items()}
        doc["tables"] = {k: TableEntry(**v) for k, v in doc["tables"].items()}
        return cls(**doc)

    def summary(self) -> str:
        return (f"backup {self.backup_id} ({self.kind}{', parent ' + self.parent if self.parent else ''}): "
                f"{len(self.tables)} Delta tables, {len(self.catalog.get('objects', []))} catalog objects, "
                f"{len(self.files):,} files / {self.total_bytes / 1e6:,.1f} MB in the lake, copied "
                f"{self.copied_files:,} files / {self.copied_bytes / 1e6:,.1f} MB in {self.seconds:.1f}s")


def backups_in(backups: Path) -> list[Manifest]:
    """Finished backups at the location, oldest first."""
    if not Path(backups).is_dir():
        return []
    return [Manifest.read(p) for p in sorted(Path(backups).glob(f"*/{MANIFEST}"))]


def unfinished_in(backups: Path) -> list[Path]:
    """Backup folders without a manifest: a backup that died before it finished."""
    if not Path(backups).is_dir():
        return []
    return [p for p in sorted(Path(backups).iterdir()) if p.is_dir() and not (p / MANIFEST).is_file()]


def file_location(backups: Path, entry: FileEntry, path: str) -> Path:
    return Path(backups) / entry.stored_in / FILES / path


def copy_with_sha256(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` (folders created, modification time kept); return the bytes' SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    shutil.copystat(source, target)  # commit files' times are Delta's timestamps for TIMESTAMP AS OF
    return digest.hexdigest()

