"""The content check of a scanned consent form: by its bytes, not its name."""

from __future__ import annotations

import pytest

from formulary.domain.errors import ValidationError
from formulary.domain.scans import JPEG, MAX_SCAN_BYTES, PDF, PNG, check_scan
from tests.courses.scanfiles import jpeg, pdf, png


@pytest.mark.parametrize("data, kind", [
    (png(), PNG),     # a real PNG: every chunk's checksum right, IEND at the end
    (jpeg(), JPEG),   # segments up to the image data, then end-of-image
    (pdf(), PDF),     # header, xref where startxref points, %%EOF
])
def test_real_files_are_accepted_as_their_kind(data, kind):
    assert check_scan(data) == kind


@pytest.mark.parametrize("data, says", [
    (b"", "empty"),
    (b"hello, this is a text file renamed .pdf", "not a PDF, PNG or JPEG"),
    (b"GIF89a" + b"\x00" * 20, "not a PDF, PNG or JPEG"),             # an image kind not taken
    (png()[:-12], "cut short"),                                        # IEND cut off
    (png()[:30] + bytes([png()[30] ^ 0xFF]) + png()[31:], "checksum"),  # one byte changed
    (b"\x89PNG\r\n\x1a\n" + png()[33:], "header chunk"),              # IHDR missing
    (jpeg()[:-2], "end-of-image"),                                     # EOI cut off
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "cut short"),                    # only a header
    (pdf()[:-20], "cut short"),                                        # %%EOF cut off
    (pdf().replace(b"startxref\n", b"startxref\n9"), "damaged"),      # points elsewhere
    (b"%PDF-1.4\n%%EOF\n", "cut short"),                               # a header, nothing more
])
def test_bad_content_is_refused_with_the_reason(data, says):
    with pytest.raises(ValidationError) as err:
        check_scan(data)
    assert says in err.value.message and err.value.fields == {"scan": [err.value.message]}


def test_more_than_10_mb_is_refused_before_parsing():
    with pytest.raises(ValidationError, match="at most 10 MB"):
        check_scan(b"%PDF-1.4" + b"\x00" * MAX_SCAN_BYTES)
