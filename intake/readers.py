"""Turn any incoming file into pages of letter text: text files, scans, PDFs, .docx and zip archives.

:func:`read_file` looks at the *content* (magic bytes) to decide what a file is; the name's
extension only produces a warning when it disagrees. Every kind of bad input raises a subclass of
:class:`~intake.errors.IntakeError` with a message that names the file, the problem and the next
step; nothing is silently skipped.

Grouping pages into letters (:func:`split_letters`) follows one rule:

1. one file is one letter;
2. each member of a zip archive is a file of its own, so it starts a new letter;
3. a **separator page** ends a letter and starts the next one. A separator page is a page whose only
   text is the marker ``分隔页`` (dashes, spaces and punctuation around it are ignored, so
   ``——分隔页——`` printed on a sheet between two letters works once scanned). The separator page
   itself belongs to no letter. In text and .docx files a line or paragraph holding only the
   marker acts the same way;
4. an explicit ``splits=[page numbers]`` starts a new letter at each of those pages.

Blank pages are *not* separators: duplex scanners produce a blank back for every one-sided sheet,
and treating those as separators would cut letters in half. They are dropped from the letter text
and reported in the document's warnings; a group of nothing but blank pages (the back of the last
separator sheet) is no letter. A file of only blank pages therefore yields no letters at all,
which the caller must report as such.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import stat
import threading
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from classifier.normalize import encodes, is_han_char
from intake.errors import (
    CorruptArchiveError,
    CorruptDocxError,
    CorruptImageError,
    CorruptPdfError,
    EmptyFileError,
    EncryptedFileError,
    FileTooLargeError,
    ImageTooLargeError,
    IntakeError,
    MissingFileError,
    SplitError,
    TooManyPagesError,
    UnsafeArchiveError,
    UnsupportedEncodingError,
    UnsupportedFileTypeError,
)
from intake.ocr import OcrLine, OcrPage

if TYPE_CHECKING:
    from PIL import Image

    from routing.schemas import Letter

Kind = Literal["text", "image", "pdf", "docx", "zip"]
PageSource = Literal["text", "pdf_text", "ocr", "docx"]

SEPARATOR_MARKER = "分隔页"
# (source, text, OCR confidence, OCR lines, has marks, page image to keep) of one page before it
# is numbered.
_RawPage = tuple[str, str, float | None, tuple[OcrLine, ...], bool, "Image.Image | None"]
# Page images kept for officers: the long side at most this many pixels (about 137 dpi on A4,
# where 3 mm characters stay legible), JPEG at this quality. A typed page at this size is
# 60-200 KB as JPEG and several times that as PNG, because scanner noise does not compress.
PAGE_IMAGE_MAX_SIDE = 1600
PAGE_IMAGE_QUALITY = 80
SUPPORTED = "text (UTF-8, UTF-16 with BOM, GB18030/GBK), PNG, JPEG, TIFF, PDF, .docx, zip"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadLimits(_Frozen):
    """Bounds that keep one hostile or broken file from exhausting the machine.

    Attributes:
        max_bytes: largest file (and largest zip member, uncompressed) accepted.
        max_pages: most pages in one document (PDF pages, TIFF frames, all pages of an archive).
        max_image_pixels: most pixels in one image or rendered page. A4 at 600 dpi is 35 million;
            larger images are decompression bombs or absurd scans. Pillow's own bomb check is
            caught as well.
        max_archive_members: most entries in one zip.
        max_archive_bytes: most uncompressed bytes in one zip (nested archives included), checked
            against the headers and again while reading; a header that understates a member's
            size fails zipfile's CRC check instead of unpacking more than it declared.
        max_compression_ratio: members larger than 1 MiB that compress better than this are
            treated as zip bombs (scans and PDFs hardly compress; text does 3-10x).
        max_archive_depth: how deep archives may nest (1 = no zip inside a zip).
        pdf_dpi: resolution at which PDF pages without a text layer are rendered for OCR.
        min_text_layer_chars: a PDF page whose text layer has fewer non-space characters is OCR'd.
    """

    max_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    max_pages: int = Field(default=200, ge=1)
    max_image_pixels: int = Field(default=60_000_000, ge=1)
    max_archive_members: int = Field(default=500, ge=1)
    max_archive_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_compression_ratio: float = Field(default=100.0, gt=1.0)
    max_archive_depth: int = Field(default=2, ge=1)
    pdf_dpi: int = Field(default=150, ge=50, le=600)
    min_text_layer_chars: int = Field(default=5, ge=1)


class PageRecognizer(Protocol):
    """Anything that reads a page image: :class:`intake.ocr.OcrEngine` is the real one."""

    def recognize(self, image: Image.Image) -> OcrPage: ...


class PageImage(_Frozen):
    """A page's image as kept for officers to compare with the text (:func:`encode_page_image`)."""

    data: bytes = Field(repr=False)
    media_type: Literal["image/jpeg", "image/png"] = "image/jpeg"
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class IntakePage(_Frozen):
    """One page of an incoming document.

    ``number`` counts from 1 across the whole document (all members of an archive); ``member`` is
    the archive member the page came from (``None`` outside archives). ``image`` is set only when
    :func:`read_file` is asked to ``keep_images``, for scans and PDF pages (text and .docx files
    have no page images).
    """

    number: int = Field(ge=1)
    source: PageSource
    text: str
    ocr_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    lines: tuple[OcrLine, ...] = ()
    member: str | None = None
    page_in_member: int = Field(default=1, ge=1)
    is_separator: bool = False
    is_blank: bool = False
    image: PageImage | None = Field(default=None, repr=False)


class MemberFailure(_Frozen):
    """An archive member that could not be read (only with ``on_member_error="record"``)."""

    member: str
    error: str
    message: str


class IntakeDocument(_Frozen):
    """A file turned into pages of text, with what was noticed on the way."""

    name: str = Field(description="the file name made safe for display and storage (safe_name)")
    kind: Kind
    media_type: str = Field(description="the MIME type of the content (not of the name)")
    size: int
    sha256: str
    encoding: str | None = Field(default=None, description="for text files, the encoding used")
    pages: tuple[IntakePage, ...]
    warnings: tuple[str, ...] = ()
    failures: tuple[MemberFailure, ...] = ()

    @property
    def text(self) -> str:
        """All letter text of the document, separator and blank pages left out."""
        return "\n".join(p.text for p in self.pages if not (p.is_separator or p.is_blank))

    @property
    def ocr_confidence(self) -> float | None:
        """Char-weighted OCR confidence over the OCR'd pages; ``None`` when nothing was OCR'd."""
        return _weighted_confidence(self.pages)


class LetterText(_Frozen):
    """One letter cut out of a document by :func:`split_letters`."""

    index: int = Field(ge=0, description="position of the letter in its document")
    source_name: str = Field(description="document name, plus the archive member if any")
    page_numbers: tuple[int, ...]
    text: str
    ocr_confidence: float | None = None

    def to_letter(self, **fields: object) -> Letter:
        """A :class:`routing.schemas.Letter` with this text and OCR confidence.

        Keyword arguments (``id``, ``title``, ``received_on`` ...) are passed through.
        """
        from routing.schemas import Letter

        return Letter(text=self.text, ocr_confidence=self.ocr_confidence, **fields)  # type: ignore[arg-type]


def _weighted_confidence(pages: Sequence[IntakePage]) -> float | None:
    ocr = [p for p in pages if p.source == "ocr" and p.ocr_confidence is not None and p.text]
    chars = sum(len(p.text) for p in ocr)
    if not chars:
        return None
    return sum(p.ocr_confidence * len(p.text) for p in ocr if p.ocr_confidence is not None) / chars


# ---------------------------------------------------------------------------------------------
# file names


def safe_name(name: str, *, default: str = "unnamed") -> str:
    """Make a file name safe to show to an officer and to use as a file name on disk.

    The rules are :func:`store.files.sanitise_filename`'s, so a name reads the same in intake's
    messages and in the stored ``original_name``: no directory part, control or
    bidirectional-override characters, characters Windows forbids, leading dots or Windows device
    names; at most 200 UTF-8 bytes, the extension kept.

    Args:
        name: the name as received (from an upload form, a path, or an archive member).
        default: returned when nothing printable is left.
    """
    # Imported here: the store package pulls in SQLAlchemy, which reading a file does not need.
    from store.files import sanitise_filename

    return sanitise_filename(name, default=default)


# ---------------------------------------------------------------------------------------------
# content detection

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office/WPS document (.doc/.xls/.wps)"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"{\\rtf", "RTF document"),
    (b"II+\x00", "BigTIFF image"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000 image"),
)

# What the name's extension says, for the mismatch warning only.
_EXTENSIONS: dict[str, str] = {
    ".txt": "text", ".text": "text", ".csv": "text", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg",
    ".tif": "tiff", ".tiff": "tiff", ".pdf": "pdf", ".docx": "docx", ".zip": "zip",
}  # fmt: skip

#: The media type of each kind of file :func:`detect_kind` tells apart: the project's one table
#: (batch intake records it with the kept file, the workbench's text upload accepts its text kind).
MEDIA_TYPES: dict[str, str] = {
    "text": "text/plain",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
}

_UNSUPPORTED_HINT = {
    "legacy Office/WPS document (.doc/.xls/.wps)": "save it as .docx or PDF",
    "GIF image": "convert it to PNG",
    "BigTIFF image": "save it as an ordinary TIFF or PDF",
    "RTF document": "save it as .docx or plain text",
}


def detect_kind(data: bytes) -> str:
    """Name the kind of ``data`` from its first bytes: ``png``, ``jpeg``, ``tiff``, ``pdf``,
    ``zip``, ``docx``, ``text``, or a description of an unsupported kind."""
    # PDF readers accept the header anywhere in the first kilobyte; so do we.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP image"
    if data[:2] == b"BM" and len(data) > 14 and int.from_bytes(data[2:6], "little") == len(data):
        return "BMP image"
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            if kind == "zip":
                return _zip_flavour(data)
            return kind
    return "text"


def _zip_flavour(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return "zip"  # reported as corrupt by the archive reader, with its own message
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "Excel workbook (.xlsx)"
    if any(n.startswith("ppt/") for n in names):
        return "PowerPoint presentation (.pptx)"
    if "OFD.xml" in names:
        return "OFD document"
    return "zip"


# ---------------------------------------------------------------------------------------------
# entry point


def read_file(
    source: str | Path | bytes,
    name: str | None = None,
    *,
    limits: ReadLimits | None = None,
    ocr: PageRecognizer | None = None,
    on_member_error: Literal["raise", "record"] = "raise",
    keep_images: bool = False,
) -> IntakeDocument:
    """Read one incoming file into an :class:`IntakeDocument`.

    Args:
        source: a path to the file, or its content.
        name: the name it arrived under (shown to officers after :func:`safe_name`); defaults to
            the path's name, or ``"upload"`` for bytes.
        limits: size, page and archive limits; ``ReadLimits()`` when omitted.
        ocr: the page recogniser for scans; the process-wide :func:`intake.ocr.get_engine` is
            loaded on the first page that needs it.
        on_member_error: for archives, ``"raise"`` stops at the first unreadable member;
            ``"record"`` keeps going and lists failures in ``IntakeDocument.failures``.
        keep_images: give every page of a scan or PDF its image (``IntakePage.image``), at most
            ``PAGE_IMAGE_MAX_SIDE`` pixels on the long side. PDF pages read from their text
            layer are rendered for it too (about 15 ms a page).

    Raises:
        IntakeError: a subclass naming what is wrong with the file (see ``intake.errors``).
    """
    limits = limits or ReadLimits()
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        display = safe_name(name or "upload")
    else:
        path = Path(source)
        display = safe_name(name or path.name)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise MissingFileError(f"{display}: no such file {str(path)!r}; check the path") from exc
        if not path.is_file():
            raise UnsupportedFileTypeError(f"{display}: {str(path)!r} is not a regular file")
        _check_size(display, size, limits)
        data = path.read_bytes()
    reader = _Reader(limits, ocr, on_member_error, keep_images=keep_images)
    kind, pages, encoding = reader.read(data, display, depth=0)
    return IntakeDocument(
        name=display,
        kind=kind,
        media_type=MEDIA_TYPES[detect_kind(data)],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        encoding=encoding,
        pages=tuple(pages),
        warnings=tuple(reader.warnings),
        failures=tuple(reader.failures),
    )


def _check_size(display: str, size: int, limits: ReadLimits) -> None:
    if size == 0:
        raise EmptyFileError(f"{display}: the file is empty (0 bytes); ask the sender to upload it again")
    if size > limits.max_bytes:
        raise FileTooLargeError(
            f"{display}: {size:,} bytes is more than the limit of {limits.max_bytes:,} bytes; "
            "split the scan into smaller files or raise ReadLimits.max_bytes"
        )


class _Reader:
    """One read: the limits, the lazily loaded recogniser, and what was noticed on the way."""

    def __init__(
        self,
        limits: ReadLimits,
        ocr: PageRecognizer | None,
        on_member_error: Literal["raise", "record"],
        *,
        keep_images: bool = False,
    ) -> None:
        self.limits = limits
        self.keep_images = keep_images
        self._ocr = ocr
        self.on_member_error = on_member_error
        self.warnings: list[str] = []
        self.failures: list[MemberFailure] = []
        self.page_count = 0
        self.archive_bytes = 0

    @property
    def ocr(self) -> PageRecognizer:
        if self._ocr is None:
            from intake.ocr import get_engine

            self._ocr = get_engine()
        return self._ocr

    def read(
        self, data: bytes, display: str, *, depth: int, member: str | None = None
    ) -> tuple[Kind, list[IntakePage], str | None]:
        _check_size(display, len(data), self.limits)
        detected = detect_kind(data)
        expected = _EXTENSIONS.get(PurePosixPath(display).suffix.lower())
        if expected and expected != detected and {expected, detected} != {"zip", "docx"}:
            self.warnings.append(
                f"{display}: the name says {expected} but the content is {detected}; read as {detected}"
            )
        encoding: str | None = None
        kind: Kind
        # Pages are produced lazily, so the page limit stops OCR at the first page too many.
        raw_pages: Iterable[_RawPage]
        if detected == "text":
            kind = "text"
            text, encoding = decode_text(data, display)
            raw_pages = [("text", t, None, (), bool(t.strip()), None) for t in _split_marker_lines(text)]
        elif detected in ("png", "jpeg", "tiff"):
            kind = "image"
            images = _open_images(data, display, self)
            raw_pages = (self._ocr_page(img, display, n) for n, img in enumerate(images, 1))
        elif detected == "pdf":
            kind = "pdf"
            raw_pages = self._pdf_pages(data, display)
        elif detected == "docx":
            kind = "docx"
            parts = _split_marker_lines(_docx_text(data, display, self))
            raw_pages = [("docx", t, None, (), bool(t.strip()), None) for t in parts]
        elif detected == "zip":
            return "zip", self._archive_pages(data, display, depth), None
        else:
            hint = _UNSUPPORTED_HINT.get(detected, "convert it to PDF or an image")
            raise UnsupportedFileTypeError(
                f"{display}: the content is a {detected}, which intake does not read; {hint}. "
                f"Supported: {SUPPORTED}"
            )
        pages: list[IntakePage] = []
        for i, (source, text, confidence, lines, marked, picture) in enumerate(raw_pages, 1):
            self.page_count += 1
            if self.page_count > self.limits.max_pages:
                raise TooManyPagesError(
                    f"{display}: more than {self.limits.max_pages} pages; "
                    "split the file or raise ReadLimits.max_pages"
                )
            separator = is_separator_text(text)
            blank = not separator and not text.strip() and not marked
            if blank:
                self.warnings.append(f"{display}: page {i} is blank; left out of the letter text")
            pages.append(
                IntakePage(
                    number=self.page_count,
                    source=source,  # type: ignore[arg-type]
                    text=text,
                    ocr_confidence=confidence,
                    lines=lines,
                    member=member,
                    page_in_member=i,
                    is_separator=separator,
                    is_blank=blank,
                    image=encode_page_image(picture) if picture is not None else None,
                )
            )
        return kind, pages, encoding

    def _ocr_page(self, image: Image.Image, display: str, number: int) -> _RawPage:
        result = self.ocr.recognize(image)
        self.warnings.extend(f"{display}: page {number}: {w}" for w in result.warnings)
        kept = image if self.keep_images else None
        return "ocr", result.text, result.confidence, result.lines, result.has_ink, kept

    # -- PDF ----------------------------------------------------------------------------------

    def _pdf_pages(self, data: bytes, display: str) -> Iterator[_RawPage]:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        with _PDFIUM_LOCK:
            try:
                doc = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                code = getattr(exc, "err_code", None)
                if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
                    raise EncryptedFileError(
                        f"{display}: the PDF is password-protected; ask the sender for an unprotected copy "
                        "(intake never guesses passwords)"
                    ) from exc
                raise CorruptPdfError(
                    f"{display}: not a readable PDF ({exc}); "
                    "the file is truncated or damaged, ask for it again"
                ) from exc
            count = len(doc)
        try:
            if count == 0:
                raise EmptyFileError(f"{display}: the PDF has no pages")
            if count > self.limits.max_pages:
                raise TooManyPagesError(
                    f"{display}: {count} pages is more than the limit of {self.limits.max_pages}; "
                    "split the file or raise ReadLimits.max_pages"
                )
            for index in range(count):
                with _PDFIUM_LOCK:
                    text, image = self._pdf_page(doc, index, display)
                    preview = (
                        self._pdf_preview(doc, index, display) if image is None and self.keep_images else None
                    )
                if image is None:
                    yield "pdf_text", text, None, (), True, preview
                else:
                    yield self._ocr_page(image, display, index + 1)
        finally:
            with _PDFIUM_LOCK:
                doc.close()

    def _pdf_page(self, doc: object, index: int, display: str) -> tuple[str, Image.Image | None]:
        """The page's text layer if it has a usable one, else the page rendered for OCR."""
        import pypdfium2 as pdfium

        assert isinstance(doc, pdfium.PdfDocument)
        try:
            page = doc[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
            chars = len("".join(text.split()))
            if chars >= self.limits.min_text_layer_chars:
                if _plausible_share(text) >= 0.8:
                    page.close()
                    return text, None
                self.warnings.append(
                    f"{display}: page {index + 1}: the text layer is unreadable (fonts without a "
                    "Unicode map); OCR'd instead"
                )
            width, height = page.get_size()
            scale = self.limits.pdf_dpi / 72
            pixels = width * scale * height * scale
            if pixels > self.limits.max_image_pixels:
                scale *= (self.limits.max_image_pixels / pixels) ** 0.5
                self.warnings.append(
                    f"{display}: page {index + 1} is {width / 72:.0f}x{height / 72:.0f} inches; "
                    f"rendered at {scale * 72:.0f} dpi to stay within {self.limits.max_image_pixels:,} pixels"
                )
            image = page.render(scale=scale, grayscale=True).to_pil()
            page.close()
            return "", image
        except pdfium.PdfiumError as exc:
            raise CorruptPdfError(
                f"{display}: page {index + 1} cannot be read ({exc}); ask for the file again"
            ) from exc

    def _pdf_preview(self, doc: object, index: int, display: str) -> Image.Image:
        """A text-layer page rendered just large enough for its kept image."""
        import pypdfium2 as pdfium

        assert isinstance(doc, pdfium.PdfDocument)
        try:
            page = doc[index]
            width, height = page.get_size()
            image: Image.Image = page.render(
                scale=PAGE_IMAGE_MAX_SIDE / max(width, height, 1.0), grayscale=True
            ).to_pil()
            page.close()
            return image
        except pdfium.PdfiumError as exc:
            raise CorruptPdfError(
                f"{display}: page {index + 1} cannot be rendered ({exc}); ask for the file again"
            ) from exc

    # -- archives -----------------------------------------------------------------------------

    def _archive_pages(self, data: bytes, display: str, depth: int) -> list[IntakePage]:
        if depth + 1 > self.limits.max_archive_depth:
            raise UnsafeArchiveError(
                f"{display}: archives nested {depth + 1} deep; at most {self.limits.max_archive_depth} "
                "levels are read. Unpack the inner archive and send its files"
            )
        pages: list[IntakePage] = []
        read_any = False
        for member, content in iter_archive(data, display, self.limits, self):
            read_any = True
            try:
                _, member_pages, _ = self.read(content, member, depth=depth + 1, member=member)
            except IntakeError as exc:
                if self.on_member_error == "raise":
                    raise
                self.failures.append(MemberFailure(member=member, error=type(exc).__name__, message=str(exc)))
                self.warnings.append(f"{member}: not read ({type(exc).__name__}): {exc}")
                continue
            pages.extend(member_pages)
        if not read_any:
            raise EmptyFileError(f"{display}: the archive holds no files")
        return pages


# pypdfium2 wraps PDFium, which is not thread-safe: every call into it is serialised.
_PDFIUM_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------
# text


_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")


def decode_text(data: bytes, display: str = "text") -> tuple[str, str]:
    """Decode a text file; return the text (line breaks made ``\\n``) and the encoding used.

    Accepted: UTF-8 with or without BOM, UTF-16 with BOM, and GB18030 (which contains GBK and
    GB2312). A GB18030 reading is accepted only if the result is plausible Chinese: GB18030 maps
    most byte pairs to *some* character, so Big5 or Shift-JIS text would decode "successfully"
    into nonsense. charset-normalizer is asked only for a suggestion in the error message.

    Raises:
        UnsupportedEncodingError: no accepted encoding fits; the message lists what was tried.
    """
    tried: list[str] = []
    text: str | None = None
    encoding = ""
    if data.startswith(_UTF32_BOMS):
        raise UnsupportedEncodingError(
            f"{display}: the text is UTF-32, which is not accepted; save it as UTF-8 and upload again"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = _strict(data[3:], "utf-8"), "utf-8-sig"
        tried.append("utf-8-sig")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = _strict(data, "utf-16"), "utf-16"
        tried.append("utf-16")
    else:
        if b"\x00" in data:
            if _utf16_without_bom(data):
                raise _utf16_error(display)
            raise UnsupportedFileTypeError(
                f"{display}: unrecognised binary content (not text, and no known file signature). "
                f"Supported: {SUPPORTED}"
            )
        for candidate in ("utf-8", "gb18030"):
            tried.append(candidate)
            decoded = _strict(data, candidate)
            if decoded is None:
                continue
            if candidate == "gb18030" and not is_plausible_chinese(decoded):
                tried[-1] = "gb18030 (decodes, but not to plausible Chinese)"
                continue
            text, encoding = decoded, candidate
            break
    if text is None:
        if _utf16_without_bom(data):
            raise _utf16_error(display)
        suggestion = _suggest_encoding(data)
        raise UnsupportedEncodingError(
            f"{display}: the text is in none of the accepted encodings (tried {', '.join(tried)})"
            f"{suggestion}. Save it as UTF-8 and upload again"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _utf16_without_bom(data: bytes) -> bool:
    """Whether the bytes read as Chinese in UTF-16 of either byte order. Chinese UTF-16 has few
    zero bytes (only ASCII characters have one), so counting them is not enough."""
    for encoding in ("utf-16-le", "utf-16-be"):
        decoded = _strict(data, encoding)
        if decoded and sum(map(is_han_char, decoded)) >= 0.3 * len(decoded) and is_plausible_chinese(decoded):
            return True
    return False


def _utf16_error(display: str) -> UnsupportedEncodingError:
    return UnsupportedEncodingError(
        f"{display}: looks like UTF-16 without a byte-order mark, which cannot be read reliably "
        "(tried utf-8, gb18030, utf-16 with BOM); save it as UTF-8 (or UTF-16 with BOM) and upload again"
    )


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding, errors="strict")
    except (UnicodeDecodeError, LookupError):
        return None


def _suggest_encoding(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    if best is None:
        return ""
    return f"; it may be {best.encoding} (a guess, not used)"


def _is_cjk_punct(c: str) -> bool:
    return "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" or c in "“”‘’…—·"


def is_plausible_chinese(text: str) -> bool:
    """Whether non-ASCII text reads as ordinary Chinese.

    At least 90 % of the non-ASCII characters must be Han characters or CJK/full-width
    punctuation, and at least 90 % of the Han characters must be in GB2312's 6,763 common ones
    (which cover almost all of modern usage). Big5 or Shift-JIS bytes read as GB18030 fail the
    second test: their byte pairs land in GBK's rare extension area.
    """
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if not non_ascii:
        return True
    han = [c for c in non_ascii if is_han_char(c)]
    cjk_punct = sum(1 for c in non_ascii if _is_cjk_punct(c))
    if (len(han) + cjk_punct) / len(non_ascii) < 0.9:
        return False
    return not han or sum(1 for c in han if encodes(c, "gb2312")) / len(han) >= 0.9


def _plausible_share(text: str) -> float:
    """Share of non-space characters that are not replacement, private-use or control characters;
    PDFs whose fonts lack a Unicode map extract as exactly those."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    bad = sum(1 for c in chars if c == "\ufffd" or unicodedata.category(c) in ("Co", "Cc", "Cn"))
    return 1 - bad / len(chars)


# OCR often reads a dash (—) as the character 一; around the marker it can only be a dash.
_SEPARATOR_NOISE = re.compile(r"[\s\-‐‑‒–—―－_=＝*＊·.…。:：|一]+")


def is_separator_text(text: str) -> bool:
    """Whether a page's text is the separator marker and nothing else (see the module docstring)."""
    return _SEPARATOR_NOISE.sub("", text) == SEPARATOR_MARKER


def _split_marker_lines(text: str) -> list[str]:
    """Split text at lines that hold only the separator marker; each such line becomes a page of
    its own, so the same grouping rule applies to text, .docx and scans."""
    pages: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if is_separator_text(line):
            pages.append("\n".join(current))
            pages.append(line)
            current = []
        else:
            current.append(line)
    pages.append("\n".join(current))
    if len(pages) > 1:
        # A marker at the very start or end leaves an empty page, which is not a blank scan.
        if not pages[0].strip():
            pages = pages[1:]
        if pages and not pages[-1].strip():
            pages = pages[:-1]
    return pages


# ---------------------------------------------------------------------------------------------
# images


def _open_images(data: bytes, display: str, reader: _Reader) -> Iterator[Image.Image]:
    """Yield every frame of a PNG, JPEG or TIFF as an RGB or greyscale image, upright."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    limit = reader.limits.max_image_pixels
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{display}: the image declares more pixels than Pillow's safety limit ({exc}); "
            f"at most {limit:,} are read. Rescan at 300 dpi or less"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(
            f"{display}: the image cannot be decoded ({exc}); the file is truncated or damaged, "
            "rescan or resend it"
        ) from exc
    frames = getattr(img, "n_frames", 1)
    if frames > reader.limits.max_pages:
        raise TooManyPagesError(
            f"{display}: {frames} pages is more than the limit of {reader.limits.max_pages}; split the file"
        )
    for frame in range(frames):
        try:
            img.seek(frame)
        except (OSError, EOFError, ValueError) as exc:
            raise CorruptImageError(
                f"{display}: page {frame + 1} cannot be found ({exc}); rescan it"
            ) from exc
        if img.width * img.height > limit:
            raise ImageTooLargeError(
                f"{display}: page {frame + 1} is {img.width}x{img.height} = "
                f"{img.width * img.height:,} pixels, more than the limit of {limit:,} "
                "(A4 at 600 dpi is about 35 million); rescan at 300 dpi or raise ReadLimits.max_image_pixels"
            )
        try:
            img.load()
            page = ImageOps.exif_transpose(img) if img.format == "JPEG" else img.copy()
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(
                f"{display}: page {frame + 1}: {exc}; rescan at 300 dpi or less"
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptImageError(
                f"{display}: page {frame + 1} cannot be decoded ({exc}); "
                "the file is truncated or damaged, rescan or resend it"
            ) from exc
        yield _to_8bit(page)


def _to_8bit(img: Image.Image) -> Image.Image:
    """Greyscale or RGB with 8 bits per channel, white behind transparency."""
    from PIL import Image

    if img.mode in ("L", "RGB"):
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        span = float(arr.max() - arr.min()) or 1.0
        return Image.fromarray(((arr - arr.min()) * (255.0 / span)).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode == "1":
        return img.convert("L")
    return img.convert("RGB")


def encode_page_image(image: Image.Image, *, max_side: int = PAGE_IMAGE_MAX_SIDE) -> PageImage:
    """The page as kept for officers: shrunk to ``max_side`` on its long side (never enlarged),
    greyscale or RGB, JPEG at ``PAGE_IMAGE_QUALITY``. The same pixels always give the same bytes,
    so a page seen twice is stored once."""
    from PIL import Image

    picture = _to_8bit(image)
    if max(picture.size) > max_side:
        picture = picture.copy()
        picture.thumbnail((max_side, max_side), resample=Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    picture.save(buf, format="JPEG", quality=PAGE_IMAGE_QUALITY, optimize=True)
    return PageImage(data=buf.getvalue(), width=picture.width, height=picture.height)


# ---------------------------------------------------------------------------------------------
# .docx


def _docx_text(data: bytes, display: str, reader: _Reader) -> str:
    """Paragraphs and table rows of the document body, in document order."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    # A .docx is a zip: hold it to the same size and ratio limits before python-docx inflates it.
    for _ in iter_archive(data, display, reader.limits, reader, count_pages=False, check_paths=False):
        pass
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml and zip errors alike
        raise CorruptDocxError(
            f"{display}: the .docx cannot be read ({type(exc).__name__}: {exc}); resave it in Word or WPS"
        ) from exc
    out: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    # Merged cells repeat the same text once per grid column.
                    if not cells or cell.text != cells[-1]:
                        cells.append(cell.text)
                out.append(" ".join(c.strip() for c in cells))
    text = "\n".join(out)
    if not text.strip():
        images = sum(1 for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("word/media/"))
        hint = f"; it holds {images} image(s), perhaps a pasted scan: send the scan itself" if images else ""
        reader.warnings.append(f"{display}: the .docx has no text in its body{hint}")
    return text


# ---------------------------------------------------------------------------------------------
# zip archives

_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)", re.IGNORECASE)
_RATIO_FLOOR = 1024 * 1024


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as the sender saw it. Zips made on Chinese Windows store GBK names
    without the UTF-8 flag, which Python reads as CP437; undo that when it gives valid GB18030."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("gb18030")
    return name


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def iter_archive(
    data: bytes,
    display: str,
    limits: ReadLimits,
    reader: _Reader | None = None,
    *,
    count_pages: bool = True,
    check_paths: bool = True,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(display name, content)`` for each file in a zip, checking it is safe first.

    Members come in natural name order (``scan2`` before ``scan10``). Refused: absolute paths,
    ``..``, symbolic links, encrypted members, more than ``max_archive_members`` entries, more
    than ``max_archive_bytes`` uncompressed (declared, and counted while reading), members over ``max_bytes``
    and members over 1 MiB that compress more than ``max_compression_ratio`` times. Operating
    system junk (``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``) is skipped with a warning.

    Raises:
        CorruptArchiveError, UnsafeArchiveError, EncryptedFileError, FileTooLargeError.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CorruptArchiveError(
            f"{display}: the zip archive cannot be read ({exc}); ask for it again"
        ) from exc
    with zf:
        if len(infos) > limits.max_archive_members:
            raise UnsafeArchiveError(
                f"{display}: {len(infos)} entries is more than the limit of {limits.max_archive_members}; "
                "send the files in several archives"
            )
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_archive_bytes:
            raise UnsafeArchiveError(
                f"{display}: unpacks to {declared:,} bytes, more than the limit of "
                f"{limits.max_archive_bytes:,}; send fewer files per archive"
            )
        members: list[tuple[str, zipfile.ZipInfo]] = []
        for info in infos:
            raw = _member_name(info)
            if check_paths:
                _check_member_path(raw, info, display)
            if info.is_dir():
                continue
            if check_paths and _JUNK.search(raw.replace("\\", "/")):
                if reader is not None:
                    reader.warnings.append(f"{display}: skipped operating-system file {safe_name(raw)!r}")
                continue
            if info.flag_bits & 0x1:
                raise EncryptedFileError(
                    f"{display}: member {safe_name(raw)!r} is password-protected; "
                    "ask for an unprotected archive"
                )
            if info.file_size > limits.max_bytes:
                raise FileTooLargeError(
                    f"{display}: member {safe_name(raw)!r} unpacks to {info.file_size:,} bytes, "
                    f"more than the limit of {limits.max_bytes:,}"
                )
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _RATIO_FLOOR and ratio > limits.max_compression_ratio:
                raise UnsafeArchiveError(
                    f"{display}: member {safe_name(raw)!r} is compressed {ratio:.0f} times (limit "
                    f"{limits.max_compression_ratio:.0f}), as zip bombs are; the archive is not unpacked"
                )
            members.append((raw, info))
        members.sort(key=lambda m: _natural_key(m[0]))
        total = 0
        for raw, info in members:
            try:
                # zipfile stops at the declared size and checks the CRC, so a header that
                # understates a member's size ends in BadZipFile here, not in a flood of bytes.
                with zf.open(info) as fh:
                    content = fh.read()
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
                raise CorruptArchiveError(
                    f"{display}: member {safe_name(raw)!r} cannot be unpacked ({exc}); "
                    "ask for the archive again"
                ) from exc
            total += len(content)
            if reader is not None and count_pages:
                # Nested archives share one budget: the outer archive's limit covers all of them.
                reader.archive_bytes += len(content)
            if max(total, reader.archive_bytes if reader is not None else 0) > limits.max_archive_bytes:
                raise UnsafeArchiveError(
                    f"{display}: unpacks to more than {limits.max_archive_bytes:,} bytes; "
                    "send fewer files per archive"
                )
            parts = [safe_name(p) for p in raw.replace("\\", "/").split("/") if p]
            yield f"{display}/{'/'.join(parts)}", content


def _check_member_path(raw: str, info: zipfile.ZipInfo, display: str) -> None:
    unified = raw.replace("\\", "/")
    shown = safe_name(raw)
    if unified.startswith("/") or re.match(r"^[A-Za-z]:", unified):
        raise UnsafeArchiveError(
            f"{display}: member {shown!r} has an absolute path ({raw!r}); the archive is refused"
        )
    if ".." in unified.split("/"):
        raise UnsafeArchiveError(
            f"{display}: member {shown!r} climbs out of the archive ({raw!r}); the archive is refused"
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise UnsafeArchiveError(f"{display}: member {shown!r} is a symbolic link; the archive is refused")


# ---------------------------------------------------------------------------------------------
# letters


def split_letters(document: IntakeDocument, splits: Sequence[int] = ()) -> list[LetterText]:
    """Group a document's pages into letters by the rule in the module docstring.

    Args:
        document: what :func:`read_file` returned.
        splits: page numbers (1-based, document-wide) at which a new letter starts, in increasing
            order; page 1 always starts one.

    Returns:
        The letters in page order; empty when every page is blank or a separator.

    Raises:
        SplitError: a split is out of range or the list is not strictly increasing.
    """
    n = len(document.pages)
    wanted = list(splits)
    if any(not isinstance(s, int) or s < 1 or s > n for s in wanted):
        raise SplitError(f"{document.name}: splits {wanted} must be page numbers between 1 and {n}")
    if wanted != sorted(set(wanted)):
        raise SplitError(f"{document.name}: splits {wanted} must be strictly increasing page numbers")
    starts = set(wanted)
    groups: list[list[IntakePage]] = []
    current: list[IntakePage] = []
    previous_member: object = object()
    for page in document.pages:
        if page.is_separator:
            if current:
                groups.append(current)
            current = []
            previous_member = page.member
            continue
        if current and (page.number in starts or page.member != previous_member):
            groups.append(current)
            current = []
        current.append(page)
        previous_member = page.member
    if current:
        groups.append(current)
    letters: list[LetterText] = []
    for pages in groups:
        content = [p for p in pages if not p.is_blank]
        if not content:
            continue  # only blank pages: already reported in document.warnings
        member = pages[0].member
        letters.append(
            LetterText(
                index=len(letters),
                source_name=member or document.name,
                page_numbers=tuple(p.number for p in pages),
                text="\n".join(p.text for p in content),
                ocr_confidence=_weighted_confidence(content),
            )
        )
    return letters
