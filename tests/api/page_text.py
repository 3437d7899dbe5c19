"""What an officer reads on a page: its visible text, and the ASCII words in it that are codes.

Pages are for officers who read Chinese; an English sentence or an internal code (a department's
``housing``, a role's ``department_handler``, a field's ``received_on``) on one is a leak. The
scanner takes the text a browser shows (and the tooltips and alternative texts it shows on
demand), never the markup, attribute values the officer does not see, scripts or the QR code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

# Case numbers (一事一码) and dates are what officers write down; they are not codes.
_CASE_NUMBER = re.compile(r"XF-\d{4}-\d{6}")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_SHOWN_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
_HIDDEN_ELEMENTS = frozenset({"script", "style", "svg", "head"})


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_ELEMENTS:
            self._hidden += 1
            return
        if self._hidden:
            return
        if tag == "input" and dict(attrs).get("type") == "hidden":
            return
        for name, value in attrs:
            if name in _SHOWN_ATTRIBUTES and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_ELEMENTS and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The page's text as an officer reads it, tooltips included."""
    parser = _Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def code_words(html: str, allowed: Iterable[str] = ()) -> set[str]:
    """The ASCII words on the page that are neither a case number nor in ``allowed``."""
    text = _CASE_NUMBER.sub(" ", visible_text(html))
    words = {w.rstrip(".-") for w in _WORD.findall(text)}
    return words - set(allowed) - {""}
