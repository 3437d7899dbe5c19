"""read_file on every kind of good input that needs no OCR, and on every kind of bad input."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("PIL", reason="needs the ocr extra: pip install -e '.[ocr]'")
from intake_factories import (  # noqa: E402
    jpeg_bytes,
    make_docx,
    make_zip,
    png_bytes,
    png_claiming_size,
    set_zip_flag,
    shrink_declared_size,
)
from PIL import Image  # noqa: E402

from intake.errors import (  # noqa: E402
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
from intake.readers import (  # noqa: E402
    ReadLimits,
    decode_text,
    detect_kind,
    is_plausible_chinese,
    read_file,
    safe_name,
    split_letters,
)

LETTER = "尊敬的领导：我叫王建国，住址：A市西湖区桃源路88号。小区旁工地夜间施工，噪音扰民，请依法查处。"
SECOND = "市信访局：本人李秀英，电话0731-84562371。工厂拖欠工资五个月，请督促有关部门处理。"


# -- text files ---------------------------------------------------------------------------------


# fmt: off
@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (LETTER.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + LETTER.encode("utf-8"), "utf-8-sig"),
        (LETTER.encode("gbk"), "gb18030"),
        ((LETTER + "姓名：𠮷野家").encode("gb18030"), "gb18030"),   # 𠮷 needs GB18030's four-byte form
        (LETTER.encode("utf-16"), "utf-16"),                        # little-endian with BOM
        (b"\xfe\xff" + LETTER.encode("utf-16-be"), "utf-16"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "gb18030-4byte", "utf16-le-bom", "utf16-be-bom"],
)
# fmt: on
def test_text_encodings_decode_exactly(data: bytes, encoding: str) -> None:
    doc = read_file(data, "来信.txt")
    assert doc.kind == "text"
    assert doc.encoding == encoding
    assert doc.text.startswith(LETTER)
    assert doc.media_type == "text/plain"
    assert [p.source for p in doc.pages] == ["text"]


def test_crlf_line_breaks_become_newlines() -> None:
    text, _ = decode_text("第一行\r\n第二行\r第三行".encode())
    assert text == "第一行\n第二行\n第三行"


def test_plausibility_rejects_big5_read_as_gb18030() -> None:
    big5 = "我們社區的路燈壞了三個月，居民晚上出行很不方便，請儘快派人維修。".encode("big5")
    assert big5.decode("gb18030", errors="strict")  # it "decodes"...
    assert not is_plausible_chinese(big5.decode("gb18030"))  # ...into nonsense


def test_file_path_and_bytes_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "来信.txt"
    path.write_bytes(LETTER.encode("gbk"))
    from_path, from_bytes = read_file(path), read_file(LETTER.encode("gbk"), "来信.txt")
    assert from_path.name == "来信.txt"
    assert from_path.text == from_bytes.text
    assert from_path.sha256 == from_bytes.sha256


# -- letters in a file --------------------------------------------------------------------------


def test_separator_line_splits_a_text_file_into_letters() -> None:
    doc = read_file(f"{LETTER}\n——分隔页——\n{SECOND}".encode(), "two.txt")
    letters = split_letters(doc)
    assert [letter.text for letter in letters] == [LETTER, SECOND]
    assert [p.is_separator for p in doc.pages] == [False, True, False]
    assert letters[1].page_numbers == (3,)


def test_marker_inside_a_sentence_is_not_a_separator() -> None:
    doc = read_file(f"{LETTER}请把分隔页放在两封信之间。".encode(), "one.txt")
    assert len(split_letters(doc)) == 1


def test_explicit_splits_start_new_letters(tmp_path: Path) -> None:
    from intake.render import text_pdf

    pytest.importorskip("pypdfium2")
    pytest.importorskip("fpdf")
    doc = read_file(text_pdf([LETTER, "第二页续写：" + LETTER, SECOND]), "three-pages.pdf")
    assert [len(letter.page_numbers) for letter in split_letters(doc)] == [3]
    letters = split_letters(doc, splits=[3])
    assert [letter.page_numbers for letter in letters] == [(1, 2), (3,)]
    assert "第二页续写" in letters[0].text
    assert letters[1].to_letter(id="L-3").text == letters[1].text


@pytest.mark.parametrize(
    ("splits", "match"),
    [([0], "between 1 and 3"), ([4], "between 1 and 3"), ([3, 2], "strictly increasing"), ([2, 2], "strict")],
    ids=["zero", "past-end", "decreasing", "repeated"],
)
def test_bad_splits_are_refused(splits: list[int], match: str) -> None:
    doc = read_file(f"{LETTER}\n分隔页\n{SECOND}".encode(), "x.txt")
    with pytest.raises(SplitError, match=match):
        split_letters(doc, splits=splits)


# -- PDF with a text layer, .docx, zip ------------------------------------------------------------


def test_pdf_text_layer_is_used_without_ocr() -> None:
    pytest.importorskip("pypdfium2")
    pytest.importorskip("fpdf")
    from intake.render import text_pdf

    doc = read_file(text_pdf([LETTER, SECOND]), "typed.pdf")
    assert doc.kind == "pdf"
    assert [p.source for p in doc.pages] == ["pdf_text", "pdf_text"]
    assert "".join(doc.pages[0].text.split()) == LETTER
    assert doc.ocr_confidence is None


def test_docx_paragraphs_and_table_rows_in_order() -> None:
    pytest.importorskip("docx")
    data = make_docx([LETTER, "分隔页", SECOND], table=[["姓名", "李秀英"], ["电话", "0731-84562371"]])
    doc = read_file(data, "letter.docx")
    assert doc.kind == "docx"
    letters = split_letters(doc)
    assert [letter.text.split("\n")[0] for letter in letters] == [LETTER, SECOND]
    assert letters[1].text.endswith("姓名 李秀英\n电话 0731-84562371")


def test_docx_without_text_warns() -> None:
    pytest.importorskip("docx")
    doc = read_file(make_docx([]), "empty.docx")
    assert doc.text == ""
    assert any("no text in its body" in w for w in doc.warnings)


def test_name_that_disagrees_with_content_is_read_by_content() -> None:
    pytest.importorskip("docx")
    doc = read_file(make_docx([LETTER]), "letter.pdf")
    assert doc.kind == "docx"
    assert any("the name says pdf but the content is docx" in w for w in doc.warnings)


def test_zip_members_are_letters_in_natural_order() -> None:
    pytest.importorskip("docx")
    data = make_zip(
        [
            ("信件10.txt", SECOND.encode("gbk")),
            ("信件2.docx", make_docx([LETTER])),
            ("__MACOSX/._信件2.docx", b"\x00\x05\x16\x07"),
            ("sub/信件1.txt", LETTER.encode("utf-8")),
        ]
    )
    doc = read_file(data, "batch.zip")
    letters = split_letters(doc)
    assert [letter.source_name for letter in letters] == [
        "batch.zip/sub/信件1.txt",
        "batch.zip/信件2.docx",
        "batch.zip/信件10.txt",
    ]
    assert [letter.text for letter in letters] == [LETTER, LETTER, SECOND]
    assert any("skipped operating-system file" in w for w in doc.warnings)


def test_zip_with_gbk_member_names_from_chinese_windows() -> None:
    data = make_zip([("来信一.txt", LETTER.encode()), ("来信二.txt", SECOND.encode())], gbk_names=True)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()[0] != "来信一.txt"  # zipfile alone shows mojibake
    doc = read_file(data, "扫描.zip")
    assert [p.member for p in doc.pages] == ["扫描.zip/来信一.txt", "扫描.zip/来信二.txt"]


def test_nested_zip_within_depth_is_read() -> None:
    inner = make_zip([("a.txt", LETTER.encode())])
    doc = read_file(make_zip([("inner.zip", inner), ("b.txt", SECOND.encode())]), "outer.zip")
    assert [p.member for p in doc.pages] == ["outer.zip/b.txt", "outer.zip/inner.zip/a.txt"]


def test_record_mode_lists_unreadable_members_and_keeps_the_rest() -> None:
    gif = b"GIF89a" + b"\x00" * 20
    data = make_zip([("a.txt", LETTER.encode()), ("b.gif", gif)])
    doc = read_file(data, "mixed.zip", on_member_error="record")
    assert doc.text == LETTER
    assert [(f.member, f.error) for f in doc.failures] == [("mixed.zip/b.gif", "UnsupportedFileTypeError")]
    with pytest.raises(UnsupportedFileTypeError, match="GIF image"):
        read_file(make_zip([("a.txt", LETTER.encode()), ("b.gif", gif)]), "mixed.zip")


# -- bad input ----------------------------------------------------------------------------------


def _encrypted_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica")
    pdf.cell(text="secret")
    pdf.set_encryption(owner_password="owner", user_password="user")
    return bytes(pdf.output())


def _text_pdf(pages: int = 2) -> bytes:
    from intake.render import text_pdf

    return text_pdf([LETTER] * pages)


def _docx_with_broken_xml() -> bytes:
    good = zipfile.ZipFile(io.BytesIO(make_docx([LETTER])))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for item in good.infolist():
            data = good.read(item)
            out.writestr(item, b"<w:document><unclosed" if item.filename == "word/document.xml" else data)
    return buf.getvalue()


def _nested(depth: int) -> bytes:
    data = make_zip([("a.txt", LETTER.encode())])
    for _ in range(depth - 1):
        data = make_zip([("inner.zip", data)])
    return data


def bad(
    case_id: str,
    content: bytes | str,
    error: type[IntakeError],
    match: str,
    module: str | None = None,
    **kwargs: object,
) -> object:
    """One row of the bad-input table; a str ``content`` names a file built at test time."""
    return pytest.param(content, kwargs, error, match, module, id=case_id)


ZEROS = b"0" * (4 * 1024 * 1024)
BAD_INPUT = [
    bad("zero-bytes", b"", EmptyFileError, r"empty \(0 bytes\)"),
    bad("too-large", b"x" * 11, FileTooLargeError, "11 bytes is more than the limit of 10",
        limits=ReadLimits(max_bytes=10)),
    bad("gif", b"GIF89a" + b"\x00" * 10, UnsupportedFileTypeError, "GIF image.*convert it to PNG"),
    bad("ole-doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, UnsupportedFileTypeError,
        r"legacy Office.*\.docx"),
    bad("rar", b"Rar!\x1a\x07\x01\x00", UnsupportedFileTypeError, "RAR archive"),
    bad("xlsx", make_zip([("xl/workbook.xml", b"<x/>")]), UnsupportedFileTypeError, "Excel workbook"),
    bad("binary", bytes(range(256)) * 4, UnsupportedFileTypeError, "unrecognised binary content"),
    bad("utf16-no-bom", LETTER.encode("utf-16-le"), UnsupportedEncodingError, "UTF-16 without a byte-order"),
    bad("utf16be-no-bom", LETTER.encode("utf-16-be"), UnsupportedEncodingError, "UTF-16 without a byte"),
    bad("utf32", LETTER.encode("utf-32"), UnsupportedEncodingError, "UTF-32"),
    bad("big5", "我們社區的路燈壞了三個月，請儘快派人維修。".encode("big5"), UnsupportedEncodingError,
        r"tried utf-8, gb18030 \(decodes, but not to plausible Chinese\)"),
    bad("shift-jis", "お世話になっております。工事の騒音".encode("shift_jis"), UnsupportedEncodingError,
        "none of the accepted encodings"),
    bad("latin1", "café crème brûlée".encode("latin-1"), UnsupportedEncodingError, "tried utf-8, gb18030"),
    bad("corrupt-png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, CorruptImageError, "cannot be decoded"),
    bad("truncated-jpeg", jpeg_bytes(Image.new("L", (300, 300), 128))[:400], CorruptImageError,
        "truncated or damaged"),
    bad("corrupt-tiff", b"II*\x00" + b"\xff" * 40, CorruptImageError, "cannot be decoded"),
    bad("bomb-png", png_claiming_size(100_000, 100_000), ImageTooLargeError, "Pillow's safety limit"),
    bad("over-pixel-limit", png_bytes(Image.new("L", (200, 200), 255)), ImageTooLargeError,
        "40,000 pixels, more than the limit of 10,000", limits=ReadLimits(max_image_pixels=10_000)),
    bad("malformed-pdf", b"%PDF-1.4\n1 0 obj garbage", CorruptPdfError, "not a readable PDF", "pypdfium2"),
    bad("truncated-pdf", "truncated", CorruptPdfError, "truncated or damaged", "fpdf"),
    bad("encrypted-pdf", "encrypted", EncryptedFileError, "password-protected", "fpdf"),
    bad("too-many-pages", "two-pages", TooManyPagesError, "2 pages is more than the limit of 1", "fpdf",
        limits=ReadLimits(max_pages=1)),
    bad("corrupt-docx", "broken-docx", CorruptDocxError, "cannot be read", "docx"),
    bad("pages-across-members", make_zip([(f"{i}.txt", LETTER.encode()) for i in range(3)]),
        TooManyPagesError,
        r"batch\.zip/2\.txt: more than 2 pages", limits=ReadLimits(max_pages=2)),
    bad("corrupt-zip", b"PK\x03\x04" + b"\x00" * 40, CorruptArchiveError, "cannot be read"),
    bad("empty-zip", make_zip([]), EmptyFileError, "holds no files"),
    bad("zip-dotdot", make_zip([("../../etc/cron.d/x.txt", b"x")]), UnsafeArchiveError, "climbs out of the"),
    bad("zip-absolute", make_zip([("/etc/passwd", b"x")]), UnsafeArchiveError, "absolute path"),
    bad("zip-drive", make_zip([("C:\\Windows\\x.txt", b"x")]), UnsafeArchiveError, "absolute path"),
    bad("zip-symlink", make_zip([("link.txt", b"/etc/shadow")], symlinks=["link.txt"]), UnsafeArchiveError,
        "symbolic link"),
    bad("zip-bomb-ratio", make_zip([("zeros.txt", ZEROS)]), UnsafeArchiveError, "compressed [0-9]+ times"),
    bad("zip-total", make_zip([("a.txt", b"a" * 600), ("b.txt", b"b" * 600)]), UnsafeArchiveError,
        "unpacks to 1,200 bytes", limits=ReadLimits(max_archive_bytes=1000)),
    bad("zip-members", make_zip([(f"{i}.txt", b"x") for i in range(6)]), UnsafeArchiveError,
        "6 entries is more than the limit of 5", limits=ReadLimits(max_archive_members=5)),
    bad("zip-too-deep", _nested(3), UnsafeArchiveError, "nested 3 deep"),
    bad("zip-encrypted", set_zip_flag(make_zip([("a.txt", LETTER.encode())]), 0x1), EncryptedFileError,
        "password-protected"),
    bad("zip-lying-size", shrink_declared_size(make_zip([("a.txt", LETTER.encode() * 50)]), 10),
        CorruptArchiveError, "cannot be unpacked"),
    bad("zip-empty-member", make_zip([("a.txt", b"")]), EmptyFileError, r"batch\.zip/a\.txt: the file is"),
]  # fmt: skip

_BUILT = {
    "truncated": lambda: _text_pdf()[:700],
    "encrypted": _encrypted_pdf,
    "two-pages": lambda: _text_pdf(2),
    "broken-docx": _docx_with_broken_xml,
}


@pytest.mark.parametrize(("content", "kwargs", "error", "match", "module"), BAD_INPUT)
def test_bad_input_raises_a_specific_error(
    content: bytes | str, kwargs: dict[str, object], error: type[IntakeError], match: str, module: str | None
) -> None:
    if module:
        pytest.importorskip(module)
    if isinstance(content, str):
        pytest.importorskip("pypdfium2")
    data = _BUILT[content]() if isinstance(content, str) else content
    with pytest.raises(error, match=match) as info:
        read_file(data, "batch.zip", **kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, IntakeError)
    assert isinstance(info.value, ValueError | UnicodeError)  # callers that catch builtins still do


def test_missing_path_and_directory() -> None:
    with pytest.raises(MissingFileError, match="no such file"):
        read_file(Path("/nonexistent/来信.pdf"))
    with pytest.raises(UnsupportedFileTypeError, match="not a regular file"):
        read_file(Path("/tmp"))


def test_oversized_path_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2048)
    with pytest.raises(FileTooLargeError, match="2,048 bytes"):
        read_file(path, limits=ReadLimits(max_bytes=1024))


# fmt: off
@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff\xe0", "jpeg"), (b"II*\x00", "tiff"),
        (b"MM\x00*", "tiff"), (b"\n\n%PDF-1.7", "pdf"), (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP image"),
        ("纯文本".encode(), "text"),
    ],
    ids=["png", "jpeg", "tiff-le", "tiff-be", "pdf-after-junk", "webp", "text"],
)
# fmt: on
def test_detect_kind_by_magic_bytes(data: bytes, kind: str) -> None:
    assert detect_kind(data) == kind


# -- safe names ---------------------------------------------------------------------------------


# fmt: off
@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("来信 2024.pdf", "来信 2024.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\扫描\\来信.pdf", "来信.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),          # right-to-left override hides .exe
        ("a\x00b\x1b[31mc.txt", "ab[31mc.txt"),               # NUL and a terminal escape
        ('what?<is>"this".txt', "what__is__this_.txt"),
        ("...hidden", "hidden"),
        ("CON.txt", "_CON.txt"),
        ("  \t ", "unnamed"),
        ("信" * 100 + ".pdf", "信" * 65 + ".pdf"),           # 200 UTF-8 bytes at most, extension kept
        ("Ｆｕｌｌ.txt", "Ｆｕｌｌ.txt"),
    ],
    ids=["chinese", "dotdot", "windows-path", "bidi", "control", "reserved-chars", "leading-dots",
         "device-name", "blank", "long", "fullwidth"],
)
# fmt: on
def test_safe_name(raw: str, safe: str) -> None:
    assert safe_name(raw) == safe
    assert len(safe_name(raw).encode()) <= 200
