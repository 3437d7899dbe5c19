"""Errors raised while turning an incoming file into letter text.

Every error derives from :class:`IntakeError` and also from the builtin it resembles, so callers
that only know ``ValueError`` still catch bad input. Messages name the file (already made safe
for display), what was wrong, the value seen, what is allowed and what the sender or officer can
do next. Nothing here is swallowed: a file that cannot be read raises, and the batch layer decides
whether to record the failure and go on.
"""

from __future__ import annotations


class IntakeError(Exception):
    """Base of every error the intake package raises."""


class MissingFileError(IntakeError, FileNotFoundError):
    """The path given to read does not exist."""


class EmptyFileError(IntakeError, ValueError):
    """The file has zero bytes (or an archive holds nothing readable)."""


class FileTooLargeError(IntakeError, ValueError):
    """The file, or one member of an archive, is larger than the configured limit."""


class UnsupportedFileTypeError(IntakeError, ValueError):
    """The content is of a kind intake does not read (the message names the detected kind)."""


class UnsupportedEncodingError(IntakeError, UnicodeError):
    """A text file is in none of the accepted encodings (UTF-8, UTF-16 with BOM, GB18030/GBK)."""


class CorruptFileError(IntakeError, ValueError):
    """The content claims a known type but cannot be parsed as one."""


class CorruptImageError(CorruptFileError):
    """A PNG, JPEG or TIFF that Pillow cannot decode (truncated or damaged)."""


class CorruptPdfError(CorruptFileError):
    """A PDF that PDFium cannot open or render (truncated, malformed)."""


class CorruptDocxError(CorruptFileError):
    """A .docx whose parts are missing or malformed."""


class CorruptArchiveError(CorruptFileError):
    """A zip archive whose directory or members cannot be read."""


class EncryptedFileError(IntakeError, ValueError):
    """A password-protected PDF or zip member; intake never guesses passwords."""


class ImageTooLargeError(IntakeError, ValueError):
    """An image (or a rendered page) has more pixels than the limit: a decompression bomb or a
    scan at an absurd resolution."""


class UnsafeArchiveError(IntakeError, ValueError):
    """A zip archive that could escape its folder or exhaust memory: absolute or ``..`` member
    paths, symbolic links, archives nested too deep, too many members, too much uncompressed data
    or a compression ratio typical of zip bombs."""


class TooManyPagesError(IntakeError, ValueError):
    """A document has more pages than the configured limit."""


class SplitError(IntakeError, ValueError):
    """An explicit split of pages into letters is out of range or not increasing."""


class OcrUnavailableError(IntakeError, RuntimeError):
    """The OCR engine cannot be loaded: the ``ocr`` extra is not installed or its bundled model
    files are missing. Intake never downloads models at run time."""


class OcrFailedError(IntakeError, RuntimeError):
    """The OCR engine raised while recognising a page."""


class BatchError(IntakeError, ValueError):
    """A batch cannot start: a path to triage does not exist or names nothing readable."""


class EngineError(IntakeError, RuntimeError):
    """The execution engine (local worker processes or a Dask scheduler) cannot be used."""
