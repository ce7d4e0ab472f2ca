"""A scanned signed consent form (SPEC §11): PDF, PNG or JPEG, at most 10 MB, its content
checked, not its name: the first bytes say the kind, and the file must parse as that kind
to its end (PNG: every chunk's CRC and the IEND chunk; JPEG: its segments up to the image
data and the end-of-image marker; PDF: the header, a cross-reference (table or stream)
where ``startxref`` points, and ``%%EOF``). Standard library only.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from formulary.domain.errors import ValidationError

MAX_SCAN_BYTES = 10 * 2**20
FIELD = "scan"


@dataclass(frozen=True)
class ScanKind:
    content_type: str
    extension: str


PDF = ScanKind("application/pdf", "pdf")
PNG = ScanKind("image/png", "png")
JPEG = ScanKind("image/jpeg", "jpg")


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, field=FIELD)


def _check_png(data: bytes) -> None:
    pos, first = 8, True
    while True:
        if pos + 12 > len(data):
            raise _refuse("The PNG file is cut short: it has no end chunk.")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise _refuse("The PNG file is cut short inside a chunk.")
        crc = struct.unpack(">I", data[end - 4:end])[0]
        if zlib.crc32(data[pos + 4:pos + 8 + length]) != crc:
            raise _refuse("The PNG file is damaged (a chunk's checksum is wrong).")
        if first and (kind != b"IHDR" or length != 13):
            raise _refuse("The PNG file does not start with its header chunk.")
        first = False
        if kind == b"IEND":
            return
        pos = end


#: JPEG markers that stand alone (no length follows).
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _check_jpeg(data: bytes) -> None:
    pos, frame = 2, False
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise _refuse("The JPEG file is damaged (a segment is missing or cut short).")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if length < 2 or pos + 2 + length > len(data):
            raise _refuse("The JPEG file is damaged (a segment is cut short).")
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                      0xCE, 0xCF):
            frame = True
        if marker == 0xDA:  # start of scan: the image data runs to the end marker
            if not frame:
                raise _refuse("The JPEG file has no image frame.")
            if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
                raise _refuse("The JPEG file is cut short: it has no end-of-image marker.")
            return
        pos += 2 + length


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def _check_pdf(data: bytes) -> None:
    if not re.match(rb"%PDF-\d\.\d", data[:8]):
        raise _refuse("The PDF file has no version header.")
    tail = data[-1024:]
    found = _STARTXREF.search(tail)
    if found is None:
        raise _refuse("The PDF file is cut short: it does not end with startxref and %%EOF.")
    offset = int(found.group(1))
    if offset >= len(data):
        raise _refuse("The PDF file is damaged (its cross-reference points past its end).")
    at = data[offset:offset + 64]
    if not (at.startswith(b"xref") or re.match(rb"\d+\s+\d+\s+obj\b", at)):
        raise _refuse("The PDF file is damaged (no cross-reference where it says).")
    if b"/Root" not in data[-4096:] and b"/Root" not in data:
        raise _refuse("The PDF file has no document catalogue.")


def check_scan(data: bytes) -> ScanKind:
    """The kind of a scanned form read from its content, or a refusal that says why."""
    if not data:
        raise _refuse("The file is empty.")
    if len(data) > MAX_SCAN_BYTES:
        raise _refuse(f"The file is {len(data) / 2**20:.1f} MB: at most 10 MB.")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_png(data)
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        _check_jpeg(data)
        return JPEG
    if data.startswith(b"%PDF-"):
        _check_pdf(data)
        return PDF
    raise _refuse("This file is not a PDF, PNG or JPEG (its content says so, whatever its "
                  "name).")
