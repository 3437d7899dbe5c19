"""The test-letter renderer: A4 geometry, deterministic damage, and the CER that scores OCR."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PIL", reason="needs the ocr extra: pip install -e '.[ocr]'")

from intake.render import (  # noqa: E402
    HARD,
    MILD,
    SAMPLE_LETTERS,
    cer,
    cer_text,
    degrade,
    edit_distance,
    paginate,
    render_page,
    render_pages,
)


def test_page_is_a4_at_the_requested_dpi(cjk_font: None) -> None:
    assert render_page("测试", dpi=200).size == (1654, 2339)
    assert render_page("测试", dpi=150).size == (1240, 1754)


def test_long_text_flows_onto_more_pages_and_paginate_agrees(cjk_font: None) -> None:
    text = SAMPLE_LETTERS[0] * 6
    pages, texts = render_pages(text), paginate(text)
    assert len(pages) == len(texts) >= 2
    assert cer_text("".join(texts)) == cer_text(text)
    with pytest.raises(ValueError, match="needs 2 pages|needs [0-9]+ pages"):
        render_page(text)


def test_damage_is_deterministic_in_the_seed(cjk_font: None) -> None:
    page = render_page(SAMPLE_LETTERS[1])
    a, b, c = (np.asarray(degrade(page, MILD, seed=s)) for s in (7, 7, 8))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.mean() < np.asarray(page).mean()  # grey paper and noise darken the page


def test_hard_damage_lowers_the_resolution(cjk_font: None) -> None:
    page = render_page(SAMPLE_LETTERS[1], dpi=200)
    assert degrade(page, HARD, seed=0).size == (1240, 1754)


# fmt: off
@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("尊敬的领导：您好！", "尊敬的领导：您好！", 0.0),
        ("尊敬的领导：您好！", "尊敬的领导:您好!", 0.0),           # punctuation width is not an error
        ("尊敬的 领导\n您好", "尊敬的领导您好", 0.0),               # neither is white space
        ("一二三四五六七八九十", "一二三四五六七八九千", 0.1),
        ("一二三四五六七八九十", "一二三四五六七八九", 0.1),
        ("一二三四五", "", 1.0),
    ],
    ids=["same", "punct-width", "whitespace", "substitution", "deletion", "nothing-read"],
)
# fmt: on
def test_cer(reference: str, hypothesis: str, expected: float) -> None:
    assert cer(reference, hypothesis) == pytest.approx(expected)


def test_edit_distance_and_empty_reference() -> None:
    assert edit_distance("kitten", "sitting") == 3
    with pytest.raises(ValueError, match="reference text is empty"):
        cer(" \n", "x")
