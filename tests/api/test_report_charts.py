"""The report's charts draw their Chinese labels in a Chinese font, even where matplotlib's font
cache was built before the font was installed."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from matplotlib import font_manager

from service import reports
from service.statistics import Count

LABELS = [
    Count("appeal", "申诉求决", 12),
    Count("accusation", "检举控告", 5),
    Count("suggestion", "意见建议", 3),
]


def cjk_font_files() -> list[str]:
    return [p for p in font_manager.findSystemFonts() if "cjk" in p.rsplit("/", 1)[-1].lower()]


def forget_font_lookups() -> None:
    # matplotlib memoises each font lookup; with its font list patched, what it remembered is stale.
    font_manager.fontManager._findfont_cached.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture
def fresh_font_choice() -> Iterator[None]:
    reports.chart_font_families.cache_clear()
    yield
    reports.chart_font_families.cache_clear()
    forget_font_lookups()


def missing_glyph_warnings(draw: object) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert callable(draw)
        png = draw()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


@pytest.mark.skipif(
    not cjk_font_files(), reason="no CJK font installed (scripts/system-deps.sh installs fonts-noto-cjk)"
)
def test_a_font_installed_after_matplotlibs_cache_was_built_is_found(
    fresh_font_choice: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache of a machine where matplotlib first ran before the CJK fonts were installed.
    stale = [f for f in font_manager.fontManager.ttflist if f.name not in reports.CHART_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    forget_font_lookups()

    families = reports.chart_font_families()

    assert families[0] in reports.CHART_FONTS
    assert missing_glyph_warnings(lambda: reports.bar_png(LABELS, "按类别")) == []
    assert missing_glyph_warnings(lambda: reports.line_png(LABELS, "按月")) == []


def test_without_any_chinese_font_the_chart_is_drawn_and_the_log_says_what_to_install(
    fresh_font_choice: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        font_manager.fontManager,
        "ttflist",
        [f for f in font_manager.fontManager.ttflist if f.name not in reports.CHART_FONTS],
    )
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])
    forget_font_lookups()

    with caplog.at_level("WARNING", logger="xinfang.reports"):
        assert reports.chart_font_families() == ["DejaVu Sans"]
    assert "fonts-noto-cjk" in caplog.text
    assert missing_glyph_warnings(lambda: reports.bar_png(LABELS, "按类别"))  # boxes, but a chart
