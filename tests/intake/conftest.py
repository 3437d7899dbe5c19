"""Fixtures for the intake tests: the real OCR engine (loaded once) and rendered test letters.

The OCR tests need the ``ocr`` extra (rapidocr, onnxruntime) and a CJK font (Debian's
``fonts-noto-cjk``); without them they skip with the reason, everything else still runs.
"""

from __future__ import annotations

import pytest

from intake.render import FontNotFoundError, find_cjk_font


@pytest.fixture(scope="session")
def cjk_font() -> None:
    """Skip when no CJK font is installed (rendering test letters needs one)."""
    try:
        find_cjk_font()
    except FontNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def ocr_engine(cjk_font: None) -> object:
    """The process-wide OCR engine, as read_file would load it."""
    pytest.importorskip("rapidocr", reason="needs the ocr extra: pip install -e '.[ocr]'")
    pytest.importorskip("onnxruntime", reason="needs the ocr extra: pip install -e '.[ocr]'")
    from intake.ocr import get_engine

    return get_engine()
