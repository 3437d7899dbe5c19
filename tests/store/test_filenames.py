"""One rule names files everywhere: intake's messages show the name the store keeps."""

from __future__ import annotations

import pytest

from store.files import sanitise_filename


@pytest.mark.parametrize(
    "raw",
    [
        "来信 2024.pdf",
        "../../etc/passwd",
        "invoice\u202efdp.exe",
        "CON.txt",
        "信" * 100 + ".pdf",
        "  ",
        "a\x00b",
    ],
)
def test_intake_names_files_by_the_same_rule(raw: str) -> None:
    from intake.readers import safe_name

    assert safe_name(raw) == sanitise_filename(raw)
    assert safe_name(raw, default="upload") == sanitise_filename(raw, default="upload")
