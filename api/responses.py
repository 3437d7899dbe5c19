"""HTTP responses the JSON routes and the pages both send: the same bytes under the same rule.

A route and a page never import each other; what both answer with lives here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from sqlalchemy.orm import Session

from service import reports
from service.batches import Export, export_filename
from service.exports import ExportFormat, export_file
from service.settings import Settings
from service.statistics import Statistics
from store.files import PAGE_IMAGE_TYPES, get_letter_page, read_page_image
from store.queries_api import LetterBundle

#: The content type of each export format.
EXPORT_MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def page_image_response(session: Session, settings: Settings, bundle: LetterBundle, number: int) -> Response:
    """The image of page ``number`` of a letter the caller has already been allowed to open.

    Shared by the API and the letter page, so both serve the same bytes under the same rule: the
    caller must have passed ``workflows.open_letter`` for this letter first. The file is found
    through the letter's page row, never through anything in the request.
    """
    page = get_letter_page(session, bundle.letter.id, number)
    data = read_page_image(settings.storage_dir, page)
    extension = PAGE_IMAGE_TYPES.get(page.media_type, ".jpg")
    return Response(
        content=data,
        media_type=page.media_type,
        headers={
            "Content-Disposition": f'inline; filename="{bundle.letter.case_number}-p{number}{extension}"',
            "ETag": f'"{page.sha256}"',
        },
    )


def export_download(session: Session, export: Export, batch_id: int, fmt: ExportFormat) -> Response:
    """A batch's export as a file to download, for the API and the batch page alike.

    Commits the request's transaction first: the audit event of the export must be stored before
    the data leaves.
    """
    session.commit()
    name = export_filename(batch_id, fmt, export.masked)
    return Response(
        export_file(export.rows, fmt),
        media_type=EXPORT_MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def report_download(session: Session, user: Any, stats: Statistics, fmt: str) -> Response:
    """The 信访情况分析报告 of ``stats`` as a file, for the API and the statistics page alike.

    The download is an export: its audit event is committed before the file leaves.
    """
    name, data = reports.export_report(session, user, stats, fmt)
    session.commit()
    return Response(
        data,
        media_type=reports.FORMATS[fmt],
        headers={
            # the name is Chinese: an ASCII fallback, and the real one encoded as RFC 6266 asks
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )
