"""Tabular downloads (CSV and XLSX) of the reports staff take away: one writer for every report, and
one guard against text a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# an API route's `responses=` for a download: its 200 may be CSV or XLSX (a JSON model adds its own)
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}},
                      XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}

# Text starting with one of these is run as a formula when a spreadsheet opens a CSV file ("CSV
# injection", OWASP): a complainant's or a colleague's text must not become one on a reviewer's desk.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Row = Sequence[Any]


def csv_cell(value: Any) -> Any:
    """A value as a CSV file should carry it: text a spreadsheet would evaluate gets a leading
    apostrophe (OWASP's advice); numbers, dates and None are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: Iterable[Row]) -> str:
    """The rows (the header first) as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue()


def to_xlsx(sheets: Iterable[tuple[str, Iterable[Row]]]) -> bytes:
    """A workbook with one sheet per (title, rows), written row by row. Text is stored as text: openpyxl
    would store a string starting with "=" as a formula, so those cells are typed explicitly."""
    from openpyxl import Workbook  # an export-only dependency: not loaded by every process

    book = Workbook(write_only=True)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if not (isinstance(value, str) and value.startswith("=")):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # text, not the formula openpyxl would make of it
    return cell
