"""Test letters: render Chinese text to A4 page images, damage them like a scanner, score OCR.

The OCR tests and ``bench/ocr.py`` need pages whose exact text is known. Rather than ship scans
(which would carry real people's particulars), this module draws the text with a CJK font from
Debian's ``fonts-noto-cjk`` and then degrades the page deterministically: the same ``seed`` always
gives the same pixels, so a CER measured once is reproducible.

It also builds the PDF fixtures: an image-only PDF (what a scanner produces) with Pillow, and a
PDF with a real text layer with fpdf2 and the same Noto font.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from classifier.normalize import normalize

A4_MM = (210.0, 297.0)
MM_PER_INCH = 25.4

# Debian's fonts-noto-cjk; the face index selects Simplified Chinese inside the collection.
CJK_FONT_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"), 2),
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)

# Chinese punctuation must not start a line (禁则); it is pulled back onto the previous one.
_NO_LINE_START = set("，。、；：？！）」』】》〉”’…")

# Synthetic letters with made-up particulars (the ID numbers carry valid check digits).
SAMPLE_LETTERS: tuple[str, ...] = (
    "尊敬的领导：\n"
    "我叫王建国，住址：A市西湖区桃源路88号3栋502室，联系电话13812345678，"
    "身份证号430102198506123417。我们小区旁边的建筑工地每天晚上十一点以后还在施工，"
    "搅拌机和渣土车的噪音让居民无法入睡，老人和孩子的身体都受到了影响。"
    "我们多次向物业和社区反映，也拨打过环保热线，但情况一直没有改善。"
    "恳请相关部门依法查处夜间违规施工行为，还居民一个安静的休息环境。\n"
    "此致\n敬礼！\n王建国\n2024年3月15日",
    "市信访局：\n"
    "本人李秀英，地址：B市高新区创业大道216号，电话0731-84562371。"
    "我在本市一家服装厂工作了三年，厂方自去年十月起拖欠工资共计二万八千元，"
    "同车间还有四十多名工人也被拖欠。我们找过劳动监察大队，对方答复正在调查，"
    "但至今已过去五个月仍没有结果。春节前工人们的生活非常困难，"
    "希望领导督促有关部门尽快处理，帮助我们讨回血汗钱。\n联系人：李秀英",
    "关于改善公交线路的建议\n"
    "我是C县城关镇的居民赵志强，手机号码15907316688，身份证11010519491231002X。"
    "目前城关镇到县人民医院只有一条公交线路，每天只有六个班次，"
    "老年人看病十分不便。建议增加早晚高峰的班次，并在医院门口设置候车亭，"
    "同时考虑开通连接各乡镇卫生院的环线。以上建议请予考虑。",
)


class FontNotFoundError(FileNotFoundError):
    """No CJK font is installed; rendering test letters needs Debian's fonts-noto-cjk."""


def find_cjk_font() -> tuple[Path, int]:
    """Return the path and face index of an installed Simplified-Chinese font.

    Raises:
        FontNotFoundError: none of the known font files exists.
    """
    for path, index in CJK_FONT_CANDIDATES:
        if path.is_file():
            return path, index
    tried = ", ".join(str(p) for p, _ in CJK_FONT_CANDIDATES)
    raise FontNotFoundError(
        f"no CJK font found (tried {tried}); install one with `apt-get install -y fonts-noto-cjk`"
    )


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, indent: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` pixels, character by character."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = "　" * indent if paragraph else ""
        for ch in paragraph:
            if font.getlength(line + ch) <= width or not line.strip() or ch in _NO_LINE_START:
                line += ch
            else:
                lines.append(line)
                line = ch
        lines.append(line)
    return lines


@dataclass(frozen=True)
class _Layout:
    size: tuple[int, int]
    margin: int
    font: ImageFont.FreeTypeFont
    step: int
    pages: list[list[str]]


def _layout(
    text: str, *, dpi: int, font_pt: float, margin_mm: float, line_spacing: float, indent: int
) -> _Layout:
    font_path, index = find_cjk_font()
    px_per_mm = dpi / MM_PER_INCH
    size = (round(A4_MM[0] * px_per_mm), round(A4_MM[1] * px_per_mm))
    margin = round(margin_mm * px_per_mm)
    font_px = round(font_pt / 72 * dpi)
    font = ImageFont.truetype(str(font_path), font_px, index=index)
    step = round(font_px * line_spacing)
    lines = _wrap(text, font, size[0] - 2 * margin, indent)
    per_page = max(1, (size[1] - 2 * margin) // step)
    pages = [lines[i : i + per_page] for i in range(0, max(len(lines), 1), per_page)]
    return _Layout(size, margin, font, step, pages)


def render_pages(
    text: str,
    *,
    dpi: int = 200,
    font_pt: float = 12.0,
    margin_mm: float = 25.0,
    line_spacing: float = 1.6,
    indent: int = 2,
) -> list[Image.Image]:
    """Draw ``text`` on as many white A4 pages as it needs, black on white, mode ``L``.

    Args:
        text: the letter; ``\\n`` starts a new paragraph.
        dpi: resolution of the page image (A4 at 200 dpi is 1654 x 2339 pixels).
        font_pt: font size in points (12 pt is the 小四 of most typed letters).
        margin_mm: page margin on every side.
        line_spacing: baseline distance as a multiple of the font size.
        indent: full-width spaces before each paragraph's first line.

    Returns:
        One greyscale image per page; :func:`paginate` gives the text on each.
    """
    lay = _layout(
        text, dpi=dpi, font_pt=font_pt, margin_mm=margin_mm, line_spacing=line_spacing, indent=indent
    )
    images: list[Image.Image] = []
    for lines in lay.pages:
        page = Image.new("L", lay.size, 255)
        draw = ImageDraw.Draw(page)
        for i, line in enumerate(lines):
            draw.text((lay.margin, lay.margin + i * lay.step), line, font=lay.font, fill=0)
        images.append(page)
    return images


def paginate(
    text: str,
    *,
    dpi: int = 200,
    font_pt: float = 12.0,
    margin_mm: float = 25.0,
    line_spacing: float = 1.6,
    indent: int = 2,
) -> list[str]:
    """The text that :func:`render_pages` puts on each page (same arguments), one line per row."""
    lay = _layout(
        text, dpi=dpi, font_pt=font_pt, margin_mm=margin_mm, line_spacing=line_spacing, indent=indent
    )
    return ["\n".join(line.strip("　") for line in lines) for lines in lay.pages]


def render_page(text: str, **kwargs: float) -> Image.Image:
    """Render ``text`` on one A4 page; raise ``ValueError`` if it needs more than one.

    Keyword arguments are those of :func:`render_pages`.
    """
    pages = render_pages(text, **kwargs)  # type: ignore[arg-type]
    if len(pages) != 1:
        raise ValueError(f"text needs {len(pages)} pages at these settings; use render_pages()")
    return pages[0]


@dataclass(frozen=True)
class Degradation:
    """How badly a scan is damaged. Every random choice comes from the ``seed`` given to
    :func:`degrade`, so a page is reproducible pixel for pixel.

    Attributes:
        rotation_deg: the skew is drawn uniformly from this range, with a random sign.
        noise_sigma: standard deviation of Gaussian noise in grey levels (0-255).
        blur_radius: Gaussian blur radius in pixels (the scanner's optics).
        jpeg_quality: re-encode as JPEG at this quality; ``None`` keeps the image lossless.
        background: grey level of the paper (255 is white).
        scale: resample the page by this factor first (0.75 turns 200 dpi into 150 dpi).
    """

    rotation_deg: tuple[float, float] = (0.0, 0.0)
    noise_sigma: float = 0.0
    blur_radius: float = 0.0
    jpeg_quality: int | None = None
    background: int = 255
    scale: float = 1.0


#: No damage at all: the renderer's own output.
CLEAN = Degradation()
#: A decent office scanner: slight skew, grey paper, light noise and blur, normal JPEG.
MILD = Degradation(rotation_deg=(1.0, 3.0), noise_sigma=8.0, blur_radius=0.6, jpeg_quality=75, background=232)
#: A poor scan: 150 dpi, heavy JPEG blocking, darker paper, more noise and blur.
HARD = Degradation(
    rotation_deg=(1.0, 3.0), noise_sigma=20.0, blur_radius=1.0, jpeg_quality=15, background=200, scale=0.75
)
PRESETS: dict[str, Degradation] = {"clean": CLEAN, "mild": MILD, "hard": HARD}


def degrade(page: Image.Image, damage: Degradation, *, seed: int) -> Image.Image:
    """Return a damaged copy of ``page`` as a greyscale image, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    img = page.convert("L")
    if damage.scale != 1.0:
        img = img.resize(
            (round(img.width * damage.scale), round(img.height * damage.scale)), Image.Resampling.LANCZOS
        )
    if damage.background < 255:
        # Ink stays dark, the paper turns grey: map 255 -> background linearly.
        arr = np.asarray(img, dtype=np.float32) * (damage.background / 255.0)
        img = Image.fromarray(arr.astype(np.uint8))
    lo, hi = damage.rotation_deg
    if hi > 0:
        angle = float(rng.uniform(lo, hi)) * (1 if rng.random() < 0.5 else -1)
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=damage.background)
    if damage.blur_radius > 0:
        img = img.filter(ImageFilter.GaussianBlur(damage.blur_radius))
    if damage.noise_sigma > 0:
        arr = np.asarray(img, dtype=np.float32) + rng.normal(0.0, damage.noise_sigma, (img.height, img.width))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if damage.jpeg_quality is not None:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=damage.jpeg_quality)
        img = Image.open(io.BytesIO(buf.getvalue()))
        img.load()
    return img


def image_pdf(pages: Sequence[Image.Image], *, dpi: int = 200) -> bytes:
    """An image-only PDF, one page per image, like a scanner's output (no text layer)."""
    rgb = [p.convert("RGB") for p in pages]
    buf = io.BytesIO()
    rgb[0].save(buf, format="PDF", save_all=True, append_images=rgb[1:], resolution=float(dpi))
    return buf.getvalue()


def text_pdf(pages: Sequence[str], *, font_pt: float = 12.0) -> bytes:
    """A PDF whose pages carry a real, extractable text layer in the Noto CJK font."""
    from fpdf import FPDF

    font_path, index = find_cjk_font()
    pdf = FPDF(format="A4")
    pdf.add_font("cjk", fname=str(font_path), collection_font_number=index)
    pdf.set_margins(25, 25, 25)
    for text in pages:
        pdf.add_page()
        pdf.set_font("cjk", size=font_pt)
        if text:
            pdf.multi_cell(0, font_pt * 0.6, text)
    return bytes(pdf.output())


def tiff_bytes(pages: Sequence[Image.Image], *, compression: str = "tiff_lzw") -> bytes:
    """A multi-page TIFF, as fax servers and document scanners write them."""
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=list(pages[1:]), compression=compression)
    return buf.getvalue()


# OCR may return either width of a punctuation mark; CER should not count that as an error.
_PUNCT_FOLD = str.maketrans(
    {
        "，": ",", "。": ".", "：": ":", "；": ";", "？": "?", "！": "!",
        "（": "(", "）": ")", "“": '"', "”": '"', "‘": "'", "’": "'", "、": ",",
        "【": "[", "】": "]", "—": "-", "－": "-", "·": ".",
    }
)  # fmt: skip


def cer_text(text: str) -> str:
    """The form both sides are compared in: normalised, punctuation folded, no white space."""
    folded = unicodedata.normalize("NFKC", normalize(text)).translate(_PUNCT_FOLD)
    return "".join(folded.split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edit distance over reference length, after :func:`cer_text`.

    Raises:
        ValueError: the reference is empty after normalisation (the rate would be undefined).
    """
    ref, hyp = cer_text(reference), cer_text(hypothesis)
    if not ref:
        raise ValueError("reference text is empty after removing white space; CER is undefined")
    return edit_distance(ref, hyp) / len(ref)
