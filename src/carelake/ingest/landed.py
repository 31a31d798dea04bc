"""Finding landed files for the registry's sources, with their checksums."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from carelake.registry import EntitySpec, Registry, SourceSpec


@dataclass(frozen=True)
class LandedFile:
    source: SourceSpec
    entity: EntitySpec
    path: Path
    extract_date: str | None
    sha256: str
    size: int

    @property
    def table(self) -> str:
        return self.source.bronze_table(self.entity.name)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source.id, self.entity.name, self.sha256)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(registry: Registry, sources: list[SourceSpec], date: str | None = None) -> list[LandedFile]:
    """Every landed file of the given sources (optionally one extract date), in a stable order."""
    found = []
    for source in sources:
        if source.format == "jdbc":  # pulled from its database (carelake.ingest.jdbc), no files
            continue
        for entity in source.entities.values():
            for path, extract_date in registry.landed_files(source, entity, date):
                found.append(LandedFile(source, entity, path, extract_date, sha256_of(path), path.stat().st_size))
    return found
