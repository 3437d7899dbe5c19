"""Uploaded files: the one file-name policy, and reading a letter's text file with a clear refusal.

**File names.** A name is cleaned by one rule, :func:`store.files.sanitise_filename` (no folder
part, control or bidirectional-override characters, characters Windows forbids, leading dots,
Windows device names): intake applies it to every name it reads, the store to every name it keeps.
An upload is held to the same rule: a name the rule would change is refused
(:func:`safe_filename`), since a client that sends ``../../etc/passwd`` is broken or hostile and
should hear so, rather than have its file kept under another name.

**Media types.** The file kinds and their media types are intake's one table
(``intake.readers.MEDIA_TYPES``); the workbench's single-letter upload takes its text kind.
For now that upload takes plain-text files (``.txt``) only; scans and PDFs go through batch intake.
"""

from __future__ import annotations

import re
import unicodedata
from typing import BinaryIO

from intake.readers import MEDIA_TYPES
from service.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from store.files import sanitise_filename

TEXT_SUFFIXES = (".txt",)
# Browsers label .txt files text/plain; some clients send no type or the generic binary one.
TEXT_TYPES = frozenset({MEDIA_TYPES["text"], "application/octet-stream", ""})
#: The longest name an upload may have (the stored ``original_name`` column holds 255 characters).
MAX_NAME_CHARS = 255
_SPACES = re.compile(" +")


def safe_filename(name: str | None) -> str:
    """``name`` if the file-name rule leaves it as it is; raises ``BadRequest`` for paths, hidden
    names, control or forbidden characters, device names and names over 255 characters."""
    if not name or not name.strip():
        raise BadRequest("the uploaded file has no name; choose a .txt file")
    name = unicodedata.normalize("NFC", name.strip())
    # Spacing is not a danger: a full-width or doubled space is left for the rule to even out. The
    # length is checked here rather than by the rule's cut (which keeps 200 bytes when storing).
    spaced = _SPACES.sub(" ", "".join(" " if unicodedata.category(c) == "Zs" else c for c in name))
    if len(name) > MAX_NAME_CHARS or sanitise_filename(name, max_bytes=4 * MAX_NAME_CHARS) != spaced:
        raise BadRequest(
            f"file name {name[:80]!r} is not allowed: give a plain file name without folders, a leading "
            'dot, control characters or any of < > : " / \\ | ? *, e.g. 来信.txt'
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
