"""The unlabelled letters' texts, read for benchmarks of the vocabulary (bench/heads.py)."""

from __future__ import annotations

import random
from pathlib import Path

from tiny_corpus import TINY, write_tiny_data

from training.datasets import load_unlabelled_texts


def test_unlabelled_texts_are_optional_and_read_as_full_texts(tmp_path: Path) -> None:
    folder = write_tiny_data(tmp_path / "data")
    assert load_unlabelled_texts(folder) == []
    title, text = random.Random(0).choice(TINY)[1:3]
    (folder / "unlabeled_messages.csv").write_text(
        f"id,source,time,title,text\nu00001,fj3,2019/2/28 11:25:05,{title},{text}\n", encoding="utf-8"
    )
    assert load_unlabelled_texts(folder) == [f"{title}。{text}"]
