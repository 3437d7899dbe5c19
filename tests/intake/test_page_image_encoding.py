"""Page images as kept for officers: legible size, never enlarged, the same bytes for the same page."""

from __future__ import annotations

import io

from PIL import Image

from intake.readers import PAGE_IMAGE_MAX_SIDE, encode_page_image, read_file


def _decoded(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_a_large_scan_is_shrunk_to_the_long_side_and_keeps_its_shape() -> None:
    scan = Image.new("L", (2480, 3508), 255)  # A4 at 300 dpi
    scan.paste(0, (200, 200, 2280, 260))
    kept = encode_page_image(scan)
    img = _decoded(kept.data)
    assert (img.format, img.mode, img.size) == ("JPEG", "L", (1131, PAGE_IMAGE_MAX_SIDE))
    assert (kept.width, kept.height, kept.media_type) == (1131, 1600, "image/jpeg")
    assert img.getpixel((565, 100)) < 80 and img.getpixel((565, 800)) > 230  # the bar, then paper
    assert encode_page_image(scan).data == kept.data  # same pixels, same bytes: stored once
    landscape = encode_page_image(Image.new("RGB", (4000, 1000), (250, 250, 250)))
    assert (landscape.width, landscape.height) == (1600, 400)


def test_a_small_or_transparent_image_is_not_enlarged_and_gets_white_paper() -> None:
    photo = Image.new("RGBA", (640, 480), (0, 0, 0, 0))
    kept = encode_page_image(photo)
    img = _decoded(kept.data)
    assert (img.mode, img.size) == ("RGB", (640, 480))
    assert min(img.getpixel((320, 240))) > 245  # transparency became white, not black


def test_pages_get_images_only_when_asked(cjk_font: None) -> None:
    from intake.render import text_pdf

    pdf = text_pdf(["市信访局：小区物业乱收费，请求处理。", "第二页：以上情况属实。"])
    plain = read_file(pdf, "来信.pdf")
    assert [p.image for p in plain.pages] == [None, None]
    kept = read_file(pdf, "来信.pdf", keep_images=True)
    assert [p.source for p in kept.pages] == ["pdf_text", "pdf_text"]
    assert [p.text for p in kept.pages] == [p.text for p in plain.pages]
    for page in kept.pages:
        assert page.image is not None and max(page.image.width, page.image.height) == PAGE_IMAGE_MAX_SIDE
        assert _decoded(page.image.data).getextrema()[0] < 100  # the text is on the rendered page
    assert "data=" not in repr(kept.pages[0])  # page bytes stay out of logs and tracebacks
    text = read_file("小区物业乱收费，请求处理。".encode(), "来信.txt", keep_images=True)
    assert [p.image for p in text.pages] == [None]
