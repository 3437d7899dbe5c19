"""Optical character recognition of page images with RapidOCR (PP-OCR models on ONNX Runtime).

The models are the ones the ``rapidocr`` wheel ships in ``rapidocr/models``. Each of the three
(detector, direction classifier, recogniser) is passed to RapidOCR by explicit file path: with a
path, RapidOCR never enters its download code, so a page is recognised with no network at all. If
the files are not there, :class:`~intake.errors.OcrUnavailableError` says which were looked for.

Loading the models takes about a second and a few hundred megabytes, so there is one engine per
process and per configuration (:func:`get_engine`), built on first use, never at import.

Reading order: RapidOCR returns one box per text line. :func:`reading_order` estimates the page's
skew from the boxes themselves, undoes it, groups boxes whose vertical centres agree into rows and
reads rows top to bottom, boxes in a row left to right. Multi-column layouts are read row by row
across the columns (letters are single-column; a two-column page comes out interleaved).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import math
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from intake.errors import OcrFailedError, OcrUnavailableError

if TYPE_CHECKING:
    from PIL import Image

Point = tuple[float, float]

# File names of the models the rapidocr 3.10 wheel ships (PP-OCRv6 small detector and recogniser,
# the v2.0 direction classifier). A rapidocr release that bundles others fails loudly here, with
# the list of files it does have, rather than quietly downloading the ones its config names.
BUNDLED_MODELS: dict[str, tuple[str, ...]] = {
    "det": ("PP-OCRv6_det_small.onnx",),
    "cls": ("ch_ppocr_mobile_v2.0_cls_mobile.onnx",),
    "rec": ("PP-OCRv6_rec_small.onnx",),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OcrConfig(_Frozen):
    """How the engine runs. The defaults are the ones measured best on a 2-core machine
    (see BENCHMARKS.md, section OCR).

    Attributes:
        intra_op_threads: ONNX Runtime threads inside one operator. One thread per worker process
            leaves the other core to a second worker; two made a single dense page 0.93x the wall
            time for 1.12x the CPU on the shared 2-core machine, a poor trade.
        inter_op_threads: ONNX Runtime threads across operators (the models are sequential).
        max_side: the page is downscaled so its long side is at most this many pixels before
            detection. Boxes are still reported in the original image's pixels.
        det_limit_side_len: the detector input's long side is capped at this (``det_limit_type``
            ``"max"``) or its short side raised to it (``"min"``).
        det_limit_type: ``"max"`` or ``"min"``, see above.
        check_orientation: decide once per page whether it was scanned upside down (a vote of
            the 0/180-degree classifier over windows of many lines) and turn it if so. The
            classifier is never applied line by line: on long Chinese lines it flips correct
            lines often enough to garble about 2 % of a page (see BENCHMARKS.md).
        classify_lines: apply RapidOCR's line classifier to every line as it does by default.
            Off, for the reason above; kept so the benchmark can show the difference.
        text_score: lines recognised with a lower confidence are dropped by RapidOCR.
        box_thresh: detector threshold for keeping a text box.
        rec_batch_num: text lines recognised per batch. Lines are sorted by width and padded
            to the widest of their batch; 16 instead of 6 changed CPU time by less than the noise.
        cpu_mem_arena: let ONNX Runtime keep its buffers between runs. RapidOCR turns this off;
            then every run maps and faults in fresh memory for the detector's feature maps:
            1.4-2.1 of 8 CPU s of a dense page were kernel time. On, the kernel share falls to
            about 0.2 s and the page costs 0.84-0.92x the CPU, with the same text. The price is
            memory: the arena keeps the largest run's buffers, 1.3 GB resident after two dense
            pages against 0.54 GB without it (peak 1.3 against 1.04 GB).
        unclip_ratio: how far the detector's text regions are grown into line boxes.
        model_dir: folder holding the three .onnx files; ``None`` means the ones in the wheel.

    Profile of one dense page (1654 x 2339 px, 200 dpi, 36 lines, 1,434 characters, mildly
    degraded; cProfile-style wrappers around RapidOCR's stages, one ONNX thread): the page is
    downscaled to 1131 x 1600 (``max_side``), the detector sees 1120 x 1600 (a multiple of 32)
    and takes 2.3-3.0 s; the recogniser reads the 36 line crops in 10 batches of 6 at
    48 px height in 5.0-6.0 s; decoding, resizing, cropping and the 180-degree vote together
    take under 0.2 s. Nearly all the time is inside ``InferenceSession.run``, so OpenCV's
    thread count (2 by default) does not matter; the recogniser's cost grows with the
    characters on the page, the detector's with the pixels it is given.
    """

    intra_op_threads: int = Field(default=1, ge=1, le=64)
    inter_op_threads: int = Field(default=1, ge=1, le=64)
    max_side: int = Field(default=1600, ge=320)
    det_limit_side_len: int = Field(default=1600, ge=320)
    det_limit_type: str = Field(default="max", pattern="^(max|min)$")
    check_orientation: bool = True
    classify_lines: bool = False
    text_score: float = Field(default=0.5, ge=0.0, le=1.0)
    box_thresh: float = Field(default=0.5, ge=0.0, le=1.0)
    rec_batch_num: int = Field(default=6, ge=1, le=64)
    cpu_mem_arena: bool = True
    unclip_ratio: float = Field(default=1.6, gt=1.0, le=4.0)
    model_dir: Path | None = None


class OcrLine(_Frozen):
    """One recognised text line: its text, its quadrilateral in image pixels
    (top-left, top-right, bottom-right, bottom-left) and the recogniser's confidence."""

    text: str
    box: tuple[Point, Point, Point, Point]
    confidence: float = Field(ge=0.0, le=1.0)
    row: int = Field(default=0, ge=0, description="index of the visual row after reading_order")


class OcrPage(_Frozen):
    """What OCR made of one page image."""

    lines: tuple[OcrLine, ...]
    text: str
    confidence: float | None = Field(description="char-weighted mean line confidence; None if no text")
    width: int
    height: int
    skew_deg: float = 0.0
    rotated_180: bool = Field(default=False, description="the page was upside down; boxes refer to it turned")
    rotation_deg: int = Field(
        default=0,
        description="clockwise turn (0, 90, 180, 270) applied before reading; boxes refer to it turned",
    )
    has_ink: bool = Field(default=True, description="False when the page is blank paper (see ink_bbox)")
    elapsed_s: float = 0.0
    warnings: tuple[str, ...] = ()


def bundled_model_paths(model_dir: Path | None = None) -> dict[str, Path]:
    """Locate the detector, classifier and recogniser model files.

    Args:
        model_dir: a folder to look in instead of the ``rapidocr`` wheel's own ``models``.

    Raises:
        OcrUnavailableError: ``rapidocr`` is not installed or a model file is missing.
    """
    if model_dir is None:
        spec = importlib.util.find_spec("rapidocr")
        if spec is None or spec.origin is None:
            raise OcrUnavailableError(
                "the OCR engine `rapidocr` is not installed; install the ocr extra: pip install -e '.[ocr]'"
            )
        model_dir = Path(spec.origin).parent / "models"
    found: dict[str, Path] = {}
    for task, names in BUNDLED_MODELS.items():
        for name in names:  # a tuple so that a later wheel's names can be added in front
            if (model_dir / name).is_file():
                found[task] = model_dir / name
                break
        else:
            present = sorted(p.name for p in model_dir.glob("*.onnx")) if model_dir.is_dir() else []
            raise OcrUnavailableError(
                f"no {task} model in {model_dir}: looked for {', '.join(names)}; found {present or 'none'}. "
                "Reinstall rapidocr (the wheel ships the models) or pass OcrConfig(model_dir=...) "
                "pointing at a folder with these files; models are never downloaded at run time"
            )
    return found


def _rapidocr_params(config: OcrConfig, models: dict[str, Path]) -> dict[str, Any]:
    return {
        "Global.log_level": "warning",
        "Global.use_cls": config.classify_lines,
        "Global.text_score": config.text_score,
        "Global.max_side_len": config.max_side,
        "EngineConfig.onnxruntime.intra_op_num_threads": config.intra_op_threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": config.inter_op_threads,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": config.cpu_mem_arena,
        "Det.model_path": str(models["det"]),
        "Det.limit_side_len": config.det_limit_side_len,
        "Det.limit_type": config.det_limit_type,
        "Det.box_thresh": config.box_thresh,
        "Det.unclip_ratio": config.unclip_ratio,
        "Cls.model_path": str(models["cls"]),
        "Rec.model_path": str(models["rec"]),
        "Rec.rec_batch_num": config.rec_batch_num,
    }


class _WarningCollector(logging.Handler):
    """Collects what RapidOCR logs while recognising one page: it turns some internal failures
    into a warning and an empty result, which must not pass as a blank page unnoticed."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "detection result is empty" in message:
            return  # no text found: recognize() checks the page for ink and says so itself
        self.messages.append(f"OCR engine: {message}")


class OcrEngine:
    """A RapidOCR engine built on first use. Calls are serialised: ONNX Runtime already uses the
    configured threads inside one page, and parallelism across pages belongs to worker processes.

    Args:
        config: engine settings; ``OcrConfig()`` when omitted.
    """

    def __init__(self, config: OcrConfig | None = None) -> None:
        self.config = config or OcrConfig()
        self._engine: Any = None
        self._lock = threading.Lock()
        self.models_: dict[str, Path] | None = None

    def _load(self) -> Any:
        """Build RapidOCR and open its three ONNX sessions now: RapidOCR itself opens each one
        on first use, which put about a second of CPU into the first page a worker read."""
        if self._engine is None:
            models = bundled_model_paths(self.config.model_dir)
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:  # e.g. a broken cv2 when rapidocr-onnxruntime is also installed
                raise OcrUnavailableError(
                    f"cannot import rapidocr ({exc}); install the ocr extra: pip install -e '.[ocr]', "
                    "and do not install rapidocr-onnxruntime next to it"
                ) from exc
            engine: Any = RapidOCR(params=_rapidocr_params(self.config, models))
            engine._load_det_model()
            engine._load_rec_model()
            engine._load_cls_model()
            self._engine = engine
            self.models_ = models
        return self._engine

    def info(self) -> dict[str, str]:
        """Versions and model files, for the provenance of an OCR'd letter."""
        self._load()
        assert self.models_ is not None
        info = {f"{task}_model": path.name for task, path in self.models_.items()}
        for dist in ("rapidocr", "onnxruntime"):
            info[dist] = importlib.metadata.version(dist)
        return info

    def recognize(self, image: Image.Image | np.ndarray) -> OcrPage:
        """Recognise the text on one page image.

        Args:
            image: a Pillow image in any mode, or an ``H x W x 3`` BGR / ``H x W`` grey array.

        Returns:
            The lines in reading order, the page text (rows joined by line breaks) and the
            char-weighted confidence.

        Raises:
            OcrUnavailableError: the engine cannot be loaded.
            OcrFailedError: the engine raised on this image.
        """
        array = _to_bgr(image)
        height, width = array.shape[:2]
        collector = _WarningCollector()
        rapid_logger = logging.getLogger("RapidOCR")
        rotation = 0
        with self._lock:
            engine = self._load()
            rapid_logger.addHandler(collector)
            start = time.perf_counter()
            try:
                raw = self._run(engine, array)
                marked = ink_bbox(array)
                if not raw and marked is not None:
                    raw = self._run_cropped(engine, array, marked)
                    if not raw:
                        collector.messages.append(
                            "the page has marks but no text was recognised (handwriting, a picture or a "
                            "stamp?); look at the scan"
                        )
                if self.config.check_orientation and raw and _is_sideways(raw):
                    # RapidOCR turns every tall crop a quarter counter-clockwise before reading it,
                    # so the vote on those crops says which quarter turn sets the page upright.
                    turn = 90 if self._upside_down_share(engine, array, raw) > 0.5 else 270
                    array = np.ascontiguousarray(np.rot90(array, k=-1 if turn == 90 else 1))
                    raw = self._run(engine, array)
                    rotation = turn
                    collector.messages.append(
                        f"page was sideways (its text lines ran up or down); read it turned {turn}° clockwise"
                    )
                if self.config.check_orientation and raw:
                    share = self._upside_down_share(engine, array, raw)
                    if share > 0.5:
                        array = np.ascontiguousarray(array[::-1, ::-1])
                        raw = self._run(engine, array)
                        rotation = (rotation + 180) % 360
                        collector.messages.append(
                            f"page was upside down ({share:.0%} of sampled text votes 180°); read it turned"
                        )
            except OcrFailedError:
                raise
            except Exception as exc:  # the engine's own errors carry no common base class
                raise OcrFailedError(
                    f"OCR failed on a {width}x{height} image: {type(exc).__name__}: {exc}; "
                    "check the image opens in a viewer, or rescan it"
                ) from exc
            finally:
                rapid_logger.removeHandler(collector)
            elapsed = time.perf_counter() - start
        lines, skew = reading_order(raw)
        return OcrPage(
            lines=tuple(lines),
            text=join_lines(lines),
            confidence=char_weighted_confidence(lines),
            width=array.shape[1],
            height=array.shape[0],
            skew_deg=round(skew, 3),
            rotated_180=rotation == 180,
            rotation_deg=rotation,
            has_ink=marked is not None,
            elapsed_s=round(elapsed, 4),
            warnings=tuple(collector.messages),
        )

    @staticmethod
    def _run(engine: Any, array: np.ndarray) -> list[OcrLine]:
        result = engine(array)
        lines: list[OcrLine] = []
        if result.txts is None or result.boxes is None:
            return lines
        for text, box, score in zip(result.txts, result.boxes, result.scores, strict=True):
            quad = tuple((float(x), float(y)) for x, y in np.asarray(box).reshape(4, 2))
            lines.append(OcrLine(text=text, box=quad, confidence=min(max(float(score), 0.0), 1.0)))  # type: ignore[arg-type]
        return lines

    @classmethod
    def _run_cropped(cls, engine: Any, array: np.ndarray, box: tuple[int, int, int, int]) -> list[OcrLine]:
        """Recognise only the marked part of the page, with boxes in page coordinates.

        The detector finds nothing at all on a page that holds one short line (a separator
        sheet, a signature page): measured on 分隔页 and 此致敬礼 at 12 pt on A4. Cropped to
        the marks, the same text is found.
        """
        x0, y0, x1, y1 = box
        height, width = array.shape[:2]
        if (x1 - x0) * (y1 - y0) > 0.8 * width * height:
            return []  # the marks cover the page: cropping would change nothing
        lines = cls._run(engine, np.ascontiguousarray(array[y0:y1, x0:x1]))
        return [ln.model_copy(update={"box": tuple((x + x0, y + y0) for x, y in ln.box)}) for ln in lines]

    def _upside_down_share(self, engine: Any, array: np.ndarray, lines: Sequence[OcrLine]) -> float:
        """Share of sampled text windows the direction classifier reads as turned 180°.

        The classifier squeezes its input to 192 x 48 pixels, so a whole 40-character line becomes
        unreadable to it; windows about four line-heights wide are what it was trained on.
        """
        from rapidocr.utils.process_img import get_rotate_crop_image

        windows: list[np.ndarray] = []
        for ln in sorted(lines, key=lambda ln: -len(ln.text))[:_ORIENTATION_LINES]:
            crop = get_rotate_crop_image(array, np.asarray(ln.box, dtype=np.float32))
            h, w = crop.shape[:2]
            step = max(4 * h, 1)
            windows.extend(crop[:, x : x + step] for x in range(0, max(w - step, 0) + 1, step)[:3])
        if not windows:
            return 0.0
        votes = engine._load_cls_model()(windows).cls_res
        turned = sum(score for label, score in votes if "180" in label)
        upright = sum(score for label, score in votes if "180" not in label)
        return turned / (turned + upright) if turned + upright else 0.0

    __call__ = recognize


# How many of the longest lines feed the orientation vote (three windows each).
_ORIENTATION_LINES = 8
# A box this many times taller than wide is a text line running up or down the page.
_TALL = 1.5


def _is_sideways(lines: Sequence[OcrLine]) -> bool:
    """Whether most text lines run vertically: a page scanned a quarter turn off.

    Letters are written in horizontal lines; a stamp or a single vertical line does not count,
    so at least three tall boxes are needed, and more tall boxes than wide ones.
    """
    # Extents on the page, not _box_size: the detector may start a tall box at any corner.
    sizes = [
        (
            max(x for x, _ in ln.box) - min(x for x, _ in ln.box),
            max(y for _, y in ln.box) - min(y for _, y in ln.box),
        )
        for ln in lines
    ]
    tall = sum(1 for w, h in sizes if h >= _TALL * w)
    wide = sum(1 for w, h in sizes if w >= _TALL * h)
    return tall >= 3 and tall > wide


_ENGINES: dict[OcrConfig, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(config: OcrConfig | None = None) -> OcrEngine:
    """The process-wide engine for ``config`` (built lazily; models load on the first page)."""
    config = config or OcrConfig()
    with _ENGINES_LOCK:
        if config not in _ENGINES:
            _ENGINES[config] = OcrEngine(config)
        return _ENGINES[config]


def _to_bgr(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
        if image.ndim == 3 and image.shape[2] == 3:
            return np.ascontiguousarray(image)
        raise OcrFailedError(f"expected an H x W or H x W x 3 array, got shape {image.shape}")
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


# Ink detection works on 8 x 8 pixel block means: scanner noise averages out, strokes do not.
_INK_BLOCK = 8
_INK_CONTRAST = 25
_INK_MARGIN = 40


def ink_bbox(array: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box ``(x0, y0, x1, y1)`` of what is printed or written on a page, with a
    margin, or ``None`` for blank paper.

    A block counts as ink when its mean is darker than the page's median (the paper) by more
    than 25 grey levels; Gaussian noise and JPEG artefacts of a blank scan stay well within that.
    """
    grey = array.mean(axis=2) if array.ndim == 3 else array.astype(np.float64)
    b = _INK_BLOCK
    h, w = (grey.shape[0] // b) * b, (grey.shape[1] // b) * b
    if h == 0 or w == 0:
        return None
    blocks = grey[:h, :w].reshape(h // b, b, w // b, b).mean(axis=(1, 3))
    ys, xs = np.nonzero(blocks < np.median(blocks) - _INK_CONTRAST)
    if len(xs) == 0:
        return None
    m = _INK_MARGIN
    return (
        max(int(xs.min()) * b - m, 0),
        max(int(ys.min()) * b - m, 0),
        min((int(xs.max()) + 1) * b + m, grey.shape[1]),
        min((int(ys.max()) + 1) * b + m, grey.shape[0]),
    )


def char_weighted_confidence(lines: Sequence[OcrLine]) -> float | None:
    """Mean line confidence weighted by the number of characters; ``None`` when there is no text.

    A two-character line read badly matters less than a forty-character line read badly, and
    the page confidence should say how much of the *text* can be trusted.
    """
    chars = sum(len(line.text) for line in lines)
    if chars == 0:
        return None
    return sum(line.confidence * len(line.text) for line in lines) / chars


def _edge_angle(box: Sequence[Point]) -> float:
    (x0, y0), (x1, y1) = box[0], box[1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _box_size(box: Sequence[Point]) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
    width = math.hypot(x1 - x0, y1 - y0)
    height = math.hypot(x3 - x0, y3 - y0)
    return width, height


def reading_order(lines: Sequence[OcrLine]) -> tuple[list[OcrLine], float]:
    """Order lines top to bottom, then left to right, undoing a slight page rotation.

    The skew is the median angle of the top edges of boxes at least twice as wide as high (short
    boxes give noisy angles). Box centres are rotated back by it; a box joins the current row when
    its centre lies within half a line height of the row's centre.

    Returns:
        The lines with ``row`` set, and the estimated skew in degrees (positive = clockwise).
    """
    if not lines:
        return [], 0.0
    wide = [_edge_angle(ln.box) for ln in lines if _box_size(ln.box)[0] >= 2 * _box_size(ln.box)[1]]
    skew = statistics.median(wide) if wide else 0.0
    theta = math.radians(-skew)
    cos, sin = math.cos(theta), math.sin(theta)
    placed: list[tuple[float, float, float, OcrLine]] = []
    for ln in lines:
        cx = sum(p[0] for p in ln.box) / 4
        cy = sum(p[1] for p in ln.box) / 4
        placed.append((cx * sin + cy * cos, cx * cos - cy * sin, max(_box_size(ln.box)[1], 1.0), ln))
    placed.sort(key=lambda t: t[0])
    rows: list[list[tuple[float, float, float, OcrLine]]] = []
    for item in placed:
        if rows:
            row = rows[-1]
            row_y = sum(t[0] for t in row) / len(row)
            row_h = statistics.median(t[2] for t in row)
            if abs(item[0] - row_y) < 0.5 * min(row_h, item[2]):
                row.append(item)
                continue
        rows.append([item])
    ordered: list[OcrLine] = []
    for r, row in enumerate(rows):
        for _, _, _, ln in sorted(row, key=lambda t: t[1]):
            ordered.append(ln.model_copy(update={"row": r}))
    return ordered, skew


def _is_cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef"


def join_lines(lines: Sequence[OcrLine]) -> str:
    """Page text: rows separated by line breaks; boxes in one row joined with nothing between
    Chinese characters and one space between Latin words or numbers."""
    rows: list[str] = []
    current: list[str] = []
    last_row = None
    for ln in lines:
        if last_row is not None and ln.row != last_row:
            rows.append("".join(current))
            current = []
        if current and current[-1] and ln.text and not (_is_cjk(current[-1][-1]) or _is_cjk(ln.text[0])):
            current.append(" ")
        current.append(ln.text)
        last_row = ln.row
    if current:
        rows.append("".join(current))
    return "\n".join(rows)
