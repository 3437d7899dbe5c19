"""Training data: the group split, joining officers' decisions, and validation naming the letters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from tiny_corpus import TINY, write_tiny_data

from store.letters import TrainingLabel
from training.datasets import (
    Example,
    group_split,
    ids_hash,
    in_test,
    load_examples,
    merge_decisions,
    validate_examples,
)
from training.errors import DataValidationError

ALLOWED = {"category": ["appeal", "suggestion", "accusation"], "department": ["housing", "transport"]}


def example(id: str, text: str = "小区物业乱收停车费。", group: str | None = None, **labels: str) -> Example:
    return Example(id=id, title="", text=text, group=group or f"g-{id}", **labels)  # type: ignore[arg-type]


def decision(case: str, title: str, text: str, *, corrected: bool = False, **labels: str) -> TrainingLabel:
    route = {
        "category": "appeal",
        "domain": "城乡建设",
        "department": "housing",
        "channel": "ordinary",
        **labels,
    }
    return TrainingLabel(
        letter_id=int(case[-3:]),
        case_number=case,
        title=title,
        text=text,
        form="letter",
        received_on=dt.date(2026, 12, 1),
        disposition="accept",
        decision_id=1,
        decided_by="li.ming",
        decided_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        agreed_with_proposal=not corrected,
        corrected=corrected,
        **route,
    )


def test_a_groups_side_depends_on_the_group_alone() -> None:
    examples = [example(f"m{i}", group=str(i // 2)) for i in range(400)]
    train, test = group_split(examples, 0.2, 42)
    assert {e.group for e in train}.isdisjoint({e.group for e in test})
    assert 0.12 < len(test) / len(examples) < 0.28
    # Adding letters (e.g. officers' decisions) moves no existing letter across the split.
    more = [*examples, *(example(f"db{i}", group=f"text:{i}") for i in range(100))]
    _, test_more = group_split(more, 0.2, 42)
    assert [e.id for e in test_more if not e.id.startswith("db")] == [e.id for e in test]
    assert ids_hash(test) != ids_hash(group_split(examples, 0.2, 43)[1])
    assert in_test("7", 0.2, 42) == in_test("7", 0.2, 42)


def test_test_size_outside_zero_and_one_is_refused() -> None:
    with pytest.raises(DataValidationError, match="test_size must be between 0 and 1"):
        group_split([example("a")], 1.0, 1)


def test_decisions_join_by_text_outrank_annotations_and_group_new_letters_by_text(tmp_path: Path) -> None:
    shared = load_examples(write_tiny_data(tmp_path, TINY[:4]))
    h2 = shared[1]
    decisions = [
        # the shared letter h2, registered with a stray space: relabelled by the officer
        decision(
            "XF-2026-000001", h2.title, h2.text.replace("，", "， "), corrected=True, department="transport"
        ),
        # a new letter, registered twice: both copies get one group
        decision(
            "XF-2026-000002", "停车", "路边停车收费不合理。", department="transport", category="suggestion"
        ),
        decision(
            "XF-2026-000003", "停车", "路边停车收费不合理。", department="transport", category="suggestion"
        ),
    ]
    merged, report = merge_decisions(shared, decisions)
    assert [e.id for e in merged] == ["h1", "h2", "h3", "h4", "db:XF-2026-000002", "db:XF-2026-000003"]
    assert (
        merged[1].department == "transport" and merged[1].source == "decision" and merged[1].group == h2.group
    )
    assert merged[0] == shared[0]
    assert merged[4].group == merged[5].group and merged[4].group.startswith("text:")
    assert report.as_dict()["replaced_ids"] == ["h2"] and report.added == 2 and report.corrected == 1


def _validate(train: list[Example], test: list[Example] = [], **kw: object) -> list[str]:  # noqa: B006
    args: dict[str, object] = {"min_per_class": 1, "min_to_fit": {"category": 1, "department": 1}, **kw}
    return validate_examples(train, test, ALLOWED, **args)  # type: ignore[arg-type]


TWO = [
    example("a", category="appeal", department="housing"),
    example("b", category="suggestion", department="transport"),
]


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (
            [*TWO, example("x1", category="complaint"), example("x2", category="praise")],
            r"unknown category labels: 'complaint' in x1; 'praise' in x2\. "
            r"Allowed: accusation, appeal, suggestion",
        ),
        (
            [*TWO, example("e1", text=" "), example("e2", text="")],
            r"2 letters have neither title nor text: e1, e2",
        ),
        ([*TWO, example("a", category="appeal")], r"letter ids occur more than once: a"),
        (
            [example("a", category="appeal"), example("b", category="appeal", department="housing")],
            r"head 'category' has 1 class\(es\) in the training data \(\['appeal'\]\)",
        ),
    ],
    ids=["unknown-label", "empty-text", "duplicate-id", "one-class"],
)
def test_unusable_data_is_an_error_naming_the_letters(train: list[Example], message: str) -> None:
    with pytest.raises(DataValidationError, match=message):
        _validate(train)


def test_too_few_examples_to_fit_is_an_error_and_to_trust_a_warning() -> None:
    train = [*TWO, example("c", category="appeal", department="housing")]
    with pytest.raises(
        DataValidationError, match=r"head 'category': classes with fewer than 2 .*: suggestion \(1\)"
    ):
        _validate(train, min_to_fit={"category": 2, "department": 1})
    warnings = _validate(train, min_per_class=2)
    assert warnings == [
        "category: class 'suggestion' has only 1 training examples (< data.min_per_class=2)",
        "department: class 'transport' has only 1 training examples (< data.min_per_class=2)",
    ]
    # examples made outside the letters (department duty statements) count too
    assert _validate(train, min_per_class=2, extra_counts={"department": {"transport": 1}}) == warnings[:1]


def test_the_same_text_on_both_sides_of_the_split_is_a_warning_with_both_ids() -> None:
    twin = dataclasses.replace(TWO[0], id="t", group="other")
    warnings = _validate(TWO, [twin])
    assert warnings == [
        "1 held-out letters have the same text as a training letter (test=train): t=b; give them one group "
        "in the data so they stay on one side"
    ]


def test_candidates_facts_and_unlabelled_texts_join_the_examples(tmp_path: Path) -> None:
    import json

    folder = write_tiny_data(tmp_path, TINY[:4])
    first = load_examples(folder)[0]
    (folder / "facts.jsonl").write_text(
        json.dumps({"id": first.id, "facts": {"court_pending": "起诉"}, "second": {"channel": "litigation"}})
        + "\n",
        encoding="utf-8",
    )
    (folder / "unlabeled_messages.csv").write_text(
        "id,source,time,title,text,likes,dislikes,reply,reply_time\n"
        f"u1,fj3,2019/1/1,{first.title},{first.text},0,0,,\n"
        "u2,fj3,2019/1/1,无关,另一封信的正文内容,0,0,,\n",
        encoding="utf-8",
    )
    (folder / "annotations_candidates.jsonl").write_text(
        json.dumps(
            {
                "id": "u1",
                "category": "appeal",
                "channel": "litigation",
                "department": "court_procuratorate",
                "urgent": 0,
                "multi": 0,
                "facts": {},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    examples = {e.id: e for e in load_examples(folder)}
    assert examples[first.id].facts == {"court_pending": "起诉"}
    assert examples[first.id].second == {"channel": "litigation"}
    # the same text as a shared letter: same group, so it can never sit across the split from it
    assert examples["u1"].group == first.group and examples["u1"].channel == "litigation"
    assert examples["u1"].facts == {} and "u2" not in examples
    assert [e for e in examples.values() if e.facts is None]  # letters never annotated for facts


def test_an_annotation_of_a_missing_candidate_letter_is_refused(tmp_path: Path) -> None:
    import json

    folder = write_tiny_data(tmp_path, TINY[:4])
    (folder / "annotations_candidates.jsonl").write_text(
        json.dumps({"id": "u9", "category": "appeal", "facts": {}}) + "\n", encoding="utf-8"
    )
    (folder / "unlabeled_messages.csv").write_text(
        "id,source,time,title,text,likes,dislikes,reply,reply_time\n"
    )
    with pytest.raises(DataValidationError, match="u9"):
        load_examples(folder)


def test_routing_cases_are_optional_and_read_with_their_letter_fields(tmp_path: Path) -> None:
    from training.datasets import load_routing_cases

    assert load_routing_cases(tmp_path) == []
    record = {
        "id": "D1",
        "title": "来访",
        "text": "六人来访反映征地补偿。",
        "form": "visit",
        "visitors": 6,
        "received_on": "2024-03-01",
        "expect": {
            "channel": "ordinary",
            "disposition": "accept",
            "confidential": False,
            "urgent": True,
            "multi": True,
        },
        "trap": True,
    }
    (tmp_path / "routing_cases.jsonl").write_text(
        json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (case,) = load_routing_cases(tmp_path)
    assert case.letter.form == "visit" and case.letter.visitors == 6
    assert case.letter.received_on == dt.date(2024, 3, 1)
    assert (case.channel, case.disposition, case.trap, case.urgent) == ("ordinary", "accept", True, True)
    assert case.multi and not case.confidential


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expect": {"channel": "court"}}, "case D1 has no known expect.channel"),
        ({"received_on": "2024-13-01"}, "case D1"),
        ({"form": "fax"}, "case D1"),
    ],
)
def test_a_bad_routing_case_is_named(tmp_path: Path, change: dict[str, object], message: str) -> None:
    from training.datasets import load_routing_cases

    record = {"id": "D1", "text": "反映问题。", "expect": {"channel": "ordinary", "disposition": "accept"}}
    record.update(change)
    (tmp_path / "routing_cases.jsonl").write_text(
        json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    with pytest.raises(DataValidationError, match=message):
        load_routing_cases(tmp_path)
