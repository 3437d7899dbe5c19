"""Plain functions that build the incoming files the intake tests read: good ones and hostile ones."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Sequence

from PIL import Image


def make_docx(paragraphs: Sequence[str], table: Sequence[Sequence[str]] = ()) -> bytes:
    """A .docx with these paragraphs, then a table with these rows (python-docx writes it)."""
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_zip(
    entries: Sequence[tuple[str, bytes]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    gbk_names: bool = False,
    symlinks: Sequence[str] = (),
) -> bytes:
    """A zip of ``(name, content)`` entries.

    ``gbk_names`` stores names as GBK bytes without the UTF-8 flag, as zips made on Chinese
    Windows do; names in ``symlinks`` are marked as symbolic links in their Unix mode bits.
    """
    if gbk_names:
        return _rewrite_names_gbk(entries, compression)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, content in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if name in symlinks:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, content)
    return buf.getvalue()


def _rewrite_names_gbk(entries: Sequence[tuple[str, bytes]], compression: int) -> bytes:
    # zipfile always writes non-ASCII names as UTF-8 with flag 0x800; write the headers by hand.
    out = io.BytesIO()
    central: list[bytes] = []
    for name, content in entries:
        raw_name = name.encode("gbk")
        crc = zlib.crc32(content)
        if compression == zipfile.ZIP_DEFLATED:
            comp = zlib.compressobj(6, zlib.DEFLATED, -15)
            body = comp.compress(content) + comp.flush()
            method = 8
        else:
            body, method = content, 0
        offset = out.tell()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(body),
                len(content),
                len(raw_name),
                0,
            )
        )
        out.write(raw_name + body)
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc,
                len(body),
                len(content),
                len(raw_name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )  # fmt: skip
            + raw_name
        )
    start = out.tell()
    for entry in central:
        out.write(entry)
    size = out.tell() - start
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), size, start, 0))
    return out.getvalue()


def set_zip_flag(data: bytes, flag: int) -> bytes:
    """Set a general-purpose flag bit on every member, in local and central headers."""
    buf = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = buf.find(signature)
        while pos != -1:
            current = struct.unpack_from("<H", buf, pos + offset)[0]
            struct.pack_into("<H", buf, pos + offset, current | flag)
            pos = buf.find(signature, pos + 4)
    return bytes(buf)


def shrink_declared_size(data: bytes, declared: int) -> bytes:
    """Make the headers claim each member unpacks to ``declared`` bytes (a lying zip)."""
    buf = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = buf.find(signature)
        while pos != -1:
            struct.pack_into("<I", buf, pos + offset, declared)
            pos = buf.find(signature, pos + 4)
    return bytes(buf)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares ``width x height`` pixels (a decompression
    bomb's calling card: Pillow reads the header before any pixel)."""
    data = bytearray(png_bytes(Image.new("L", (1, 1), 255)))
    ihdr = data.index(b"IHDR")
    struct.pack_into(">II", data, ihdr + 4, width, height)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    struct.pack_into(">I", data, ihdr + 17, crc)
    return bytes(data)
