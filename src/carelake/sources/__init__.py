"""Format readers: one module per landed format, each a pure-Python function

    read(path: Path, source: SourceSpec, entity: EntitySpec) -> ParsedFile

(see :mod:`carelake.sources.base` for the contract). The ingest picks the
reader by the source's ``format`` in ``metadata/sources.yml``.
"""

from __future__ import annotations

from importlib import import_module

from carelake.sources.base import ParsedFile, Rejected, UnreadableFile

# format -> "module:function"; imported lazily so `carelake --help` stays fast
READERS = {
    "csv": "carelake.sources.csv:read_csv",
    "xlsx": "carelake.sources.xlsx:read_xlsx",
    "fhir_ndjson": "carelake.sources.fhir:read_fhir_ndjson",
    "fhir_bundle": "carelake.sources.fhir:read_fhir_bundle",
    "hl7v2": "carelake.sources.hl7v2:read_hl7v2",
    "dicom": "carelake.sources.dicom:read_dicom",
}


def get_reader(fmt: str):
    try:
        module, func = READERS[fmt].split(":")
    except KeyError:
        raise ValueError(f"no reader for format {fmt!r} (known: {', '.join(sorted(READERS))})") from None
    return getattr(import_module(module), func)


__all__ = ["ParsedFile", "Rejected", "UnreadableFile", "get_reader", "READERS"]
