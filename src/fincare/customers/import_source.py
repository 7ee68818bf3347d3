"""The customer CSV as the import reads it: a checked header, then blocks of whole records.

The importing process only cuts the file into blocks of lines; each block is parsed by whoever
prepares it (a worker process, usually), so the CSV parsing runs beside the writer instead of
before it. A block always ends at the end of a record: where a quoted cell may hold a line break
(the block contains a `"`), the cut is checked with the csv module itself. Parsing a block gives
exactly what `csv.DictReader` over the whole file gives: the same cells and, for each record, the
same line number (that of its last line).

Readers are strict: a quoted cell left open (or closed and followed by more than a comma) is a
`csv.Error` naming the line where that cell began, not a cell that swallows the rest of the file.
A cut is checked in the importing process, so the error comes before any later block is sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TextIO

from fincare.platform.errors import Invalid, Message

COLUMNS = ("external_id", "kind", "name", "id_number", "credit_code", "phone", "email", "address", "cards",
           "risk_tolerance", "risk_assessed_on", "service_lines", "branch", "segment", "tags")
LIST_COLUMNS = frozenset(("cards", "service_lines", "tags"))
EXTRA = "__extra__"  # the raw row's key for cells beyond the header's columns

Row = tuple[int, dict[str, Any]]  # (line number, raw row): blanks dropped, list columns split on `;`


@dataclass(frozen=True)
class Block:
    """Whole records of the file, as text, and the number of lines before them."""

    header: tuple[str, ...]
    lines_before: int
    text: str

    def rows(self) -> Iterator[Row]:
        """(line number, raw row) for each record; blank lines are skipped, as `csv.DictReader` does."""
        header, width = self.header, len(self.header)
        lists = [key for key in header if key in LIST_COLUMNS]
        # newline="": the lines are split exactly as the file's were (\n, \r\n or \r), never on U+2028 & co.
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)  # as the cut was checked
        for cells in reader:
            if not cells:
                continue
            # a short row lacks its last cells; a long one is flagged below
            raw: dict[str, Any] = {key: value for key, value in zip(header, map(str.strip, cells)) if value}  # noqa: B905
            for key in lists:
                if key in raw:
                    raw[key] = raw[key].split(";")
            if len(cells) > width:
                raw[EXTRA] = cells[width:]
            yield self.lines_before + reader.line_num, raw


class CsvSource:
    """An opened customer file whose header has been read and checked; iterate it for its rows,
    or take `blocks` of records to parse elsewhere."""

    def __init__(self, stream: TextIO) -> None:
        self._lines: Iterator[str] = iter(stream)
        read: list[str] = []
        reader = csv.reader(keeping(self._lines, read), strict=True)  # pulls the header's lines, no more
        try:
            cells = next(reader, [])
        except csv.Error as exc:
            raise malformed(exc, read, 1) from None
        header = [h.strip().lstrip("\ufeff") for h in cells]
        if not header:
            raise Invalid("the file is empty or has no header row", field="header")
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            raise Invalid(Message("unknown column {column!r}; columns are {columns}",
                                  column=unknown[0], columns=", ".join(COLUMNS)), field=unknown[0])
        twice = next((h for n, h in enumerate(header) if h in header[:n]), None)
        if twice:
            raise Invalid(Message("the column {column!r} appears twice", column=twice), field=twice)
        for missing in ("kind", "name"):
            if missing not in header:
                raise Invalid(Message("the column {column!r} is required", column=missing), field=missing)
        self.header = tuple(header)
        self._lines_read = reader.line_num

    def __iter__(self) -> Iterator[Row]:
        for block in self.blocks(1000):
            yield from block.rows()

    def blocks(self, lines: int) -> Iterator[Block]:
        """Blocks of about `lines` lines (more where a quoted cell runs past the cut), in file order."""
        while True:
            chunk = list(islice(self._lines, lines))
            if not chunk:
                return
            text = "".join(chunk)
            if '"' in text and _complete_last_record(chunk, self._lines, self._lines_read):
                text = "".join(chunk)
            yield Block(self.header, self._lines_read, text)
            self._lines_read += len(chunk)


def _complete_last_record(chunk: list[str], more: Iterator[str], lines_before: int) -> bool:
    """Append to `chunk` the lines of `more` that its last record still spans (a quoted cell holding
    a line break); returns whether there were any. Every record of the chunk is read (strictly):
    a malformed one raises `csv.Error` naming its line."""
    size = len(chunk)

    def lines() -> Iterator[str]:
        yield from chunk[:size]
        for line in more:
            chunk.append(line)
            yield line

    reader = csv.reader(lines(), strict=True)
    done = 0  # the lines of the records read whole
    try:
        for _ in reader:  # the reader never reads past the line that ends a record
            done = reader.line_num
            if done >= size:
                break
    except csv.Error as exc:
        raise malformed(exc, chunk[done:], lines_before + done + 1) from None
    return len(chunk) > size


def keeping(lines: Iterable[str], kept: list[str]) -> Iterator[str]:
    """`lines`, each also appended to `kept`: what a reader read of a record, for `malformed`."""
    for line in lines:
        kept.append(line)
        yield line


def malformed(error: csv.Error, lines: Sequence[str], first: int) -> csv.Error:
    """`error` of a strict reader, naming a line: where the quoted cell at fault began, if a quote
    caused it, else `first`. `lines` are those read for the failing record, from its line `first`."""
    opened = _unended_quote(lines, first)
    if opened is None:
        return csv.Error(f"line {first}: {error}")
    return csv.Error(f'line {opened}: a quoted cell starts on this line and never ends properly '
                     f'(a missing or stray "): {error}')


_START, _FIELD, _QUOTED, _QUOTE = range(4)  # a cell's start, an unquoted cell, a quoted one, a quote in it


def _unended_quote(lines: Sequence[str], first: int) -> int | None:
    """The line where a quoted cell began that is still open at the end of `lines`, or whose closing
    quote is followed by more than a comma or a line end (both refused by a strict reader); None if
    no quote is at fault. Plain Python, char by char: for the error path only."""
    state, opened = _START, first
    for number, line in enumerate(lines, first):
        for char in line:
            if state == _QUOTED:
                if char == '"':
                    state = _QUOTE
            elif state == _QUOTE:  # doubled (a quote in the text) or the end of the cell
                if char == '"':
                    state = _QUOTED
                elif char in ",\r\n":
                    state = _START
                else:
                    return opened
            elif char in ",\r\n":
                state = _START
            elif state == _START and char == '"':
                state, opened = _QUOTED, number
            else:
                state = _FIELD
    return opened if state == _QUOTED else None
