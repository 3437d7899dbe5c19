"""The file formats letters are exported in, the same from ``xinfang export`` and the workbench.

Which columns, in which order, and how each format is written: CSV with a byte-order mark (Excel
needs it for Chinese) and formula-looking cells defused, JSON lines, or an Excel workbook. What
goes into the rows, and for whom, is :func:`service.batches.batch_rows`'s and
:func:`service.batches.export_rows`'s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import IO, Any, Literal

from service.errors import InvalidInput

ExportFormat = Literal["csv", "jsonl", "xlsx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "jsonl", "xlsx")
EXPORT_COLUMNS: tuple[str, ...] = (
    "batch_id", "file_id", "source_file", "source_part", "case_number", "received_on", "status",
    "petitioner_name", "address", "contact_phone", "id_number",
    "category", "domain", "department", "channel", "disposition", "target_body",
    "confidential", "urgent", "needs_review", "review_reasons", "confidence", "earliest_due",
    "model_version", "rulebook_version",
)  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(map(str, value))
    return value


def _csv_safe(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to spreadsheet programs (CSV injection).
    value = _cell(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_rows(rows: Sequence[dict[str, Any]], fmt: str, out: IO[bytes]) -> None:
    """Write export rows as ``csv`` (UTF-8 with BOM, which Excel needs for Chinese), ``jsonl`` or ``xlsx``."""
    if fmt == "jsonl":
        for row in rows:
            out.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    elif fmt == "csv":
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(EXPORT_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        out.write(text.getvalue().encode("utf-8-sig"))
    elif fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("proposals")
        sheet.append(list(EXPORT_COLUMNS))
        for row in rows:
            sheet.append([_csv_safe(row[c]) for c in EXPORT_COLUMNS])
        workbook.save(out)
    else:
        raise InvalidInput(f"不认识的格式“{fmt}”；可选：{'、'.join(EXPORT_FORMATS)}")


def export_file(rows: Sequence[dict[str, Any]], fmt: ExportFormat) -> bytes:
    """The rows written as ``xinfang export`` writes them (:func:`write_rows`)."""
    buffer = io.BytesIO()
    write_rows(rows, fmt, buffer)
    return buffer.getvalue()
