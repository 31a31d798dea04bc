"""Bronze ingestion with a per-file ledger and a quarantine: every input record is accounted for."""

from carelake.ingest.runner import FileOutcome, IngestReport, ingest, parse_file
from carelake.ingest.tables import LEDGER_TABLE, QUARANTINE_TABLE

__all__ = ["FileOutcome", "IngestReport", "ingest", "parse_file", "LEDGER_TABLE", "QUARANTINE_TABLE"]
