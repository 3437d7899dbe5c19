"""OCR: reading order and confidence on made-up boxes, then real runs of the bundled models.

The real runs are few (each A4 page costs seconds): a clean page, a mildly degraded PNG, a
scanned PDF with a separator and a blank page, a two-page TIFF, an upside-down and two sideways
scans, and the offline load. CER thresholds are what was measured on these exact pages (seeded damage) with a
margin; BENCHMARKS.md has the numbers on more pages.
"""

from __future__ import annotations

import math
import random
import socket
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PIL", reason="needs the ocr extra: pip install -e '.[ocr]'")
from PIL import Image  # noqa: E402

from intake.errors import OcrUnavailableError  # noqa: E402
from intake.ocr import (  # noqa: E402
    OcrEngine,
    OcrLine,
    bundled_model_paths,
    char_weighted_confidence,
    join_lines,
    reading_order,
)
from intake.readers import read_file, split_letters  # noqa: E402
from intake.render import (  # noqa: E402
    MILD,
    SAMPLE_LETTERS,
    cer,
    cer_text,
    degrade,
    image_pdf,
    render_page,
    render_pages,
    tiff_bytes,
)

# Measured on these pages: 0.0 clean, 0.0 mild; the margins allow another ONNX Runtime build.
CLEAN_CER_MAX = 0.01
MILD_CER_MAX = 0.02


def _line(
    text: str, x: float, y: float, w: float, h: float, angle_deg: float = 0.0, conf: float = 0.9
) -> OcrLine:
    """A text box whose top-left corner is at (x, y), turned by angle_deg about the origin."""
    a = math.radians(angle_deg)

    def turn(px: float, py: float) -> tuple[float, float]:
        return (px * math.cos(a) - py * math.sin(a), px * math.sin(a) + py * math.cos(a))

    box = (turn(x, y), turn(x + w, y), turn(x + w, y + h), turn(x, y + h))
    return OcrLine(text=text, box=box, confidence=conf)


@pytest.mark.parametrize("angle", [0.0, 2.5, -3.0], ids=["level", "clockwise", "anticlockwise"])
def test_reading_order_undoes_slight_rotation(angle: float) -> None:
    # Three rows on a page turned by `angle`; at 3 degrees the right end of row 1 sits lower than
    # the left end of row 2, so sorting by raw y would interleave them.
    lines = [
        _line("第一行左", 100, 100, 500, 40, angle),
        _line("第一行右", 650, 100, 500, 40, angle),
        _line("第二行", 100, 160, 1050, 40, angle),
        _line("第三行", 100, 220, 1050, 40, angle),
    ]
    shuffled = lines[:]
    random.Random(3).shuffle(shuffled)
    ordered, skew = reading_order(shuffled)
    assert [ln.text for ln in ordered] == ["第一行左", "第一行右", "第二行", "第三行"]
    assert [ln.row for ln in ordered] == [0, 0, 1, 2]
    assert skew == pytest.approx(angle, abs=0.01)
    assert join_lines(ordered) == "第一行左第一行右\n第二行\n第三行"


def test_join_lines_spaces_latin_words_only() -> None:
    lines = [_line("Room", 0, 0, 200, 40), _line("502", 250, 0, 100, 40), _line("号", 400, 0, 40, 40)]
    ordered, _ = reading_order(lines)
    assert join_lines(ordered) == "Room 502号"


def test_page_confidence_is_weighted_by_characters() -> None:
    lines = [_line("一二三四五六七八", 0, 0, 400, 40, conf=1.0), _line("九十", 0, 60, 100, 40, conf=0.5)]
    assert char_weighted_confidence(lines) == pytest.approx((8 * 1.0 + 2 * 0.5) / 10)
    assert char_weighted_confidence([]) is None


def test_missing_models_say_what_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "other.onnx").write_bytes(b"")
    with pytest.raises(OcrUnavailableError, match=r"no det model in .*PP-OCRv6_det_small\.onnx.*other\.onnx"):
        bundled_model_paths(tmp_path)


# -- real OCR -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_clean_page(ocr_engine: OcrEngine) -> None:
    page = ocr_engine.recognize(render_page(SAMPLE_LETTERS[0]))
    assert cer(SAMPLE_LETTERS[0], page.text) <= CLEAN_CER_MAX
    assert page.confidence is not None and page.confidence > 0.95
    assert cer_text(page.text.splitlines()[0]) == cer_text("尊敬的领导：")  # the salutation is its own line
    assert not page.rotated_180


@pytest.mark.slow
def test_mildly_degraded_png_through_read_file(ocr_engine: OcrEngine) -> None:
    from intake_factories import png_bytes

    scan = degrade(render_page(SAMPLE_LETTERS[1]), MILD, seed=1)
    doc = read_file(png_bytes(scan), "scan.png", ocr=ocr_engine)
    assert doc.kind == "image" and doc.media_type == "image/png"
    assert cer(SAMPLE_LETTERS[1], doc.text) <= MILD_CER_MAX
    assert doc.pages[0].source == "ocr" and doc.pages[0].lines
    _, skew = reading_order(doc.pages[0].lines)
    assert 0.5 <= abs(skew) <= 3.5  # MILD turns the page by 1-3 degrees


@pytest.mark.slow
def test_scanned_pdf_without_text_layer(ocr_engine: OcrEngine) -> None:
    short = "第二封来信：小区路灯损坏已三个月，请尽快维修。"
    pages = [
        degrade(render_page(SAMPLE_LETTERS[2]), MILD, seed=2),
        render_page("——分隔页——", indent=0),
        Image.new("L", (1654, 2339), 255),  # the blank back of the separator sheet
        render_page(short).crop((0, 0, 1654, 600)),
    ]
    doc = read_file(image_pdf(pages), "batch-scan.pdf", ocr=ocr_engine)
    assert [p.source for p in doc.pages] == ["ocr"] * 4
    assert [(p.is_separator, p.is_blank) for p in doc.pages] == [
        (False, False),
        (True, False),
        (False, True),
        (False, False),
    ]
    assert any("page 3 is blank" in w for w in doc.warnings)
    letters = split_letters(doc)
    assert [letter.page_numbers for letter in letters] == [(1,), (3, 4)]
    assert cer(SAMPLE_LETTERS[2], letters[0].text) <= MILD_CER_MAX
    assert cer(short, letters[1].text) <= MILD_CER_MAX
    assert letters[0].ocr_confidence is not None and letters[0].ocr_confidence > 0.9


@pytest.mark.slow
def test_multipage_tiff(ocr_engine: OcrEngine) -> None:
    texts = ["第一页：我叫王建国，反映噪音扰民问题。", "第二页：请相关部门依法查处。"]
    frames = [degrade(render_pages(t)[0].crop((0, 0, 1654, 500)), MILD, seed=i) for i, t in enumerate(texts)]
    doc = read_file(tiff_bytes(frames), "fax.tif", ocr=ocr_engine)
    assert doc.kind == "image" and len(doc.pages) == 2
    assert [cer(t, p.text) <= MILD_CER_MAX for t, p in zip(texts, doc.pages, strict=True)] == [True, True]
    assert len(split_letters(doc)) == 1  # two pages, one letter


@pytest.mark.slow
def test_upside_down_scan_is_turned(ocr_engine: OcrEngine) -> None:
    text = SAMPLE_LETTERS[1]
    scan = render_page(text).crop((0, 0, 1654, 900)).rotate(180)
    page = ocr_engine.recognize(scan)
    assert page.rotated_180 and page.rotation_deg == 180
    assert any("upside down" in w for w in page.warnings)
    assert cer(text, page.text) <= MILD_CER_MAX  # the crop holds the whole letter


@pytest.mark.slow
@pytest.mark.parametrize("pil_angle, turn", [(90, 90), (270, 270)], ids=["top-left", "top-right"])
def test_sideways_scan_is_turned(ocr_engine: OcrEngine, pil_angle: int, turn: int) -> None:
    # Pillow turns counter-clockwise: a page turned 90 that way must be turned 90 clockwise back.
    text = SAMPLE_LETTERS[1]
    scan = degrade(render_page(text).crop((0, 0, 1654, 900)), MILD, seed=4).rotate(pil_angle, expand=True)
    page = ocr_engine.recognize(scan)
    assert page.rotation_deg == turn and not page.rotated_180
    assert any("sideways" in w for w in page.warnings)
    assert (page.width, page.height) == (1654, 900)  # the boxes refer to the page turned upright
    assert cer(text, page.text) <= MILD_CER_MAX
    assert page.text.splitlines()[0].startswith("市信访局")  # rows read top to bottom once upright


def test_sideways_needs_most_lines_to_run_vertically() -> None:
    from intake.ocr import _is_sideways

    rows = [_line("一行字" * 5, 100, 100 + 60 * i, 900, 40) for i in range(6)]
    stamps = [_line("章", 700, 100 + 60 * i, 40, 120) for i in range(3)]
    columns = [_line("一行字" * 5, 100 + 60 * i, 100, 40, 900) for i in range(4)]
    assert not _is_sideways(rows + stamps)
    assert not _is_sideways(columns[:2])  # two vertical lines could be a margin note
    assert _is_sideways(columns + rows[:1])


@pytest.mark.slow
def test_models_load_from_the_wheel_without_network(monkeypatch: pytest.MonkeyPatch, cjk_font: None) -> None:
    pytest.importorskip("rapidocr")
    import rapidocr
    from rapidocr.utils import download_file

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"OCR tried to reach the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(no_network))
    engine = OcrEngine()  # a fresh engine, so the models really load here
    page = engine.recognize(render_page("离线识别测试").crop((0, 0, 1654, 400)))
    assert "离线识别测试" in page.text
    package = Path(rapidocr.__file__).parent
    assert engine.models_ is not None
    assert all(path.is_relative_to(package / "models") for path in engine.models_.values())
    assert set(engine.info()) >= {"det_model", "rec_model", "cls_model", "rapidocr", "onnxruntime"}


def test_ink_bbox_tells_blank_paper_from_a_short_line(cjk_font: None) -> None:
    import numpy as np

    from intake.ocr import ink_bbox
    from intake.render import HARD

    blank = degrade(Image.new("L", (1654, 2339), 255), HARD, seed=0)
    assert ink_bbox(np.asarray(blank)) is None  # noise and JPEG blocks are not ink
    x0, y0, x1, y1 = ink_bbox(np.asarray(render_page("分隔页", indent=0))) or (0, 0, 0, 0)
    assert 0 < x0 < x1 < 600 and 0 < y0 < y1 < 400  # the top-left corner where the line is
