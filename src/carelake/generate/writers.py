"""Write extract files and say where each record starts, as readers count it.

* CSV: the 1-based physical line where the record starts (header = line 1);
  a quoted value with a line break makes its record span two lines.
* NDJSON: the 1-based line.
* HL7 v2: the 1-based index of the message in the file. Segments end with
  CR; each message is followed by LF, so a message is also one "line".
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path


class _Chunks:
    """A file-like sink keeping each write apart (csv.writer writes once per row)."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)


def write_csv(path: Path | None, header: Sequence[str], rows: Iterable[Sequence[str]], *, encoding: str, delimiter: str,
              line_terminator: str) -> list[int]:
    sink = _Chunks()
    writer = csv.writer(sink, delimiter=delimiter, lineterminator=line_terminator, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    line = 1 + sink.parts[-1].count("\n")
    starts = []
    for row in rows:
        writer.writerow(row)
        starts.append(line)
        line += sink.parts[-1].count("\n")
    _save(path, "".join(sink.parts).encode(encoding))
    return starts


def write_ndjson(path: Path | None, resources: Sequence[dict]) -> list[int]:
    lines = [json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n" for resource in resources]
    _save(path, "".join(lines).encode("utf-8"))
    return list(range(1, len(lines) + 1))


def write_hl7(path: Path | None, messages: Sequence[str]) -> list[int]:
    """``messages``: each one's segments already joined and ended with CR."""
    _save(path, "".join(message + "\n" for message in messages).encode("utf-8"))
    return list(range(1, len(messages) + 1))


def _save(path: Path | None, data: bytes) -> None:
    """Write the file; ``path`` None: only count (a day generated for the truth but not landed)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
