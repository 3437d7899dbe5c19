"""Reading an uploaded letter file: checked name, type and size, decoded text, or a clear 4xx.

For now the workbench takes plain-text files (``.txt``); scans and PDFs go through ``intake``.
Nothing is written to disk, so a name like ``../../etc/passwd`` could do no harm, but it is refused
all the same: a client that sends one is broken or hostile, and should hear so.
"""

from __future__ import annotations

import re
import unicodedata
from typing import BinaryIO

from api.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType

TEXT_SUFFIXES = (".txt",)
# Browsers label .txt files text/plain; some clients send no type or the generic binary one.
TEXT_TYPES = frozenset({"text/plain", "application/octet-stream", ""})
_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|^\.|\.\.|^[A-Za-z]:")


def safe_filename(name: str | None) -> str:
    """``name`` if it is a plain file name; raises ``BadRequest`` for paths, hidden or control-laden names."""
    if not name or not name.strip():
        raise BadRequest("the uploaded file has no name; choose a .txt file")
    name = unicodedata.normalize("NFC", name.strip())
    if len(name) > 255 or _BAD_NAME.search(name):
        raise BadRequest(
            f"file name {name[:80]!r} is not allowed: give a plain file name without folders, '..', "
            "a leading dot or control characters, e.g. 来信.txt"
        )
    return name


def read_text_upload(
    name: str | None, content_type: str | None, stream: BinaryIO, max_bytes: int
) -> tuple[str, str]:
    """Check and decode an uploaded text file.

    Args:
        name: the file name the client sent.
        content_type: the part's Content-Type.
        stream: the file's bytes.
        max_bytes: the largest accepted size (``Settings.max_upload_bytes``).

    Returns:
        ``(safe_name, text)``.

    Raises:
        BadRequest: the name is a path or otherwise unusable.
        UnsupportedMediaType: not a .txt file, or binary content.
        PayloadTooLarge: over ``max_bytes``.
        InvalidInput: empty, or not decodable as UTF-8 or GB 18030.
    """
    safe = safe_filename(name)
    media = (content_type or "").split(";")[0].strip().lower()
    if not safe.lower().endswith(TEXT_SUFFIXES) or media not in TEXT_TYPES:
        raise UnsupportedMediaType(
            f"file {safe!r} of type {media or 'unknown'!r} is not accepted here; upload a plain-text "
            f"file ({', '.join(TEXT_SUFFIXES)}, text/plain). "
            "Scanned letters and PDFs go through batch intake."
        )
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"file {safe!r} is over the limit of {max_bytes} bytes (XINFANG_MAX_UPLOAD_BYTES); split it"
        )
    if b"\x00" in data:
        raise UnsupportedMediaType(f"file {safe!r} contains NUL bytes: it is a binary file, not text")
    text = _decode(data, safe)
    if not text.strip():
        raise InvalidInput(f"file {safe!r} is empty; upload the letter's text")
    return safe, text


def _decode(data: bytes, name: str) -> str:
    # Letters arrive as UTF-8 (with or without BOM) or as GB 18030 / GBK from older Windows machines.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"file {name!r} is neither UTF-8 nor GB 18030 text; save it as UTF-8 and upload again")
