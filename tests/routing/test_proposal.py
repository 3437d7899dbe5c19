"""The precedence of :func:`routing.proposal.propose`, on hand-made hits and scores (no model)."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_hit, make_letter, make_scores

from classifier.facts import FactFinding
from routing.catalogue import load_catalogue
from routing.engine import match_rules
from routing.proposal import ProposalConfig, propose
from routing.rulebook import load_rulebook
from routing.schemas import ReviewReason


def run(hits=(), scores=None, letter=None, config=None, problems=()):  # type: ignore[no-untyped-def]
    return propose(
        letter or make_letter(received_on=dt.date(2026, 12, 1)),
        list(hits),
        scores or make_scores(),
        catalogue=load_catalogue(),
        config=config or ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
        input_problems=problems,
    )


def test_model_channel_when_no_rule_fires() -> None:
    p = run()
    assert (p.channel, p.channel_source, p.disposition) == ("duty_request", "model", "accept")
    assert p.department.label == "housing" and p.target_body == "住房和城乡建设局"
    assert not p.confidential and not p.needs_review
    assert (p.model_version, p.rulebook_version) == ("m1", "r1")


def test_channel_rule_beats_the_model_and_redirects() -> None:
    p = run([make_hit(channel="litigation", target_body="人民法院")])
    assert (p.channel, p.channel_source, p.disposition, p.target_body) == (
        "litigation",
        "rule",
        "redirect",
        "人民法院",
    )


def test_exclusion_beats_channel_rules() -> None:
    hits = [
        make_hit(
            "R-X",
            kind="exclusion",
            channel=None,
            disposition="no_longer_accepted",
            priority=130,
            target_body="原复核机关",
        ),
        make_hit("R-C", channel="ordinary", priority=10),
    ]
    p = run(hits)
    assert p.disposition == "no_longer_accepted" and p.target_body == "原复核机关"
    assert p.channel == "ordinary"


def test_higher_priority_channel_rule_wins_and_conflict_is_reviewed() -> None:
    hits = [
        make_hit("R-A", channel="arbitration", priority=80),
        make_hit("R-L", channel="litigation", priority=60),
    ]
    p = run(hits)
    assert p.channel == "arbitration"
    assert "conflicting_rules" in {r.code for r in p.review_reasons}


@pytest.mark.parametrize(
    ("category", "channel"),
    [
        ({"accusation": 0.8, "appeal": 0.15, "suggestion": 0.05}, "discipline"),
        ({"suggestion": 0.8, "appeal": 0.15, "accusation": 0.05}, "suggestion"),
    ],
    ids=["accusation->discipline", "suggestion->suggestion"],
)
def test_category_sets_the_channel(category: dict[str, float], channel: str) -> None:
    p = run(scores=make_scores(category=category))
    assert (p.channel, p.channel_source) == (channel, "category")


def test_accusation_is_confidential_and_goes_to_the_discipline_body() -> None:
    p = run(scores=make_scores(category={"accusation": 0.8, "appeal": 0.15, "suggestion": 0.05}))
    assert p.confidential
    assert p.department.label == "discipline_inspection"
    # the officer still sees what the model thought
    assert p.department.top[0].code == "housing"


def test_a_likely_accusation_is_confidential_even_when_not_top() -> None:
    p = run(scores=make_scores(category={"appeal": 0.6, "accusation": 0.3, "suggestion": 0.1}))
    assert p.category.label == "appeal"
    assert p.confidential
    # it says why, and asks an officer to decide before anyone else may see it
    assert p.confidential_reason is not None and "0.30" in p.confidential_reason
    assert "possible_accusation" in {r.code for r in p.review_reasons} and p.needs_review
    # never a self-contradiction: a 履职 request keeps the body that must act, not 纪委监委
    assert (p.channel, p.department.label) == ("duty_request", "housing")


def test_an_office_offence_named_without_an_official_holds_the_letter_back_and_keeps_its_route() -> None:
    # The model reads an appeal (P(accusation) 0.05) and no discipline rule fires, because no office
    # holder is named beside the offence; the letter may still accuse one (第三十条第三款).
    letter = make_letter(text="镇上的砂场夜夜开采，噪音扰民，谁在给他们当保护伞？请环保部门查处。")
    hits = match_rules(load_rulebook(), letter)
    assert "R-BM-01" in {h.rule_id for h in hits}
    assert not any(h.channel == "discipline" for h in hits)
    p = run(hits)
    assert p.confidential and p.confidential_reason == "规则识别出检举控告内容"
    assert "possible_accusation" in {r.code for r in p.review_reasons}
    assert (p.channel, p.department.label) == ("duty_request", "housing")


def test_an_office_offence_denied_leaves_the_letter_open() -> None:
    letter = make_letter(text="我们村的干部从来没有贪污过，这次只是想问问修路的补助标准。")
    hits = match_rules(load_rulebook(), letter)
    assert "R-BM-01" not in {h.rule_id for h in hits}
    assert not run(hits).confidential


def test_only_a_discipline_route_goes_to_the_discipline_body() -> None:
    p = run(
        scores=make_scores(department={"discipline_inspection": 0.6, "housing": 0.3, "urban_management": 0.1})
    )
    assert p.channel == "duty_request" and not p.confidential
    assert p.department.label == "housing"
    assert p.department.top[0].code == "discipline_inspection"  # the officer still sees the model's view


def test_a_rule_that_fixes_the_body_sets_the_department() -> None:
    hit = make_hit(channel="administrative_review").model_copy(update={"department": "court_procuratorate"})
    p = run([hit])
    assert (p.channel, p.department.label) == ("administrative_review", "court_procuratorate")


def _route(channel: str, p: float) -> dict[str, float]:
    rest = (1 - p) / 3
    others = [c for c in ("ordinary", "duty_request", "litigation", "discipline") if c != channel][:3]
    return {channel: p, **dict.fromkeys(others, rest)}


def test_the_arbiter_chooses_and_the_rule_of_its_channel_gives_the_basis() -> None:
    hits = [
        make_hit("R-L", channel="litigation", priority=80),
        make_hit("R-A", channel="arbitration", priority=90),
    ]
    scores = make_scores().model_copy(update={"route": _route("litigation", 0.9)})
    p = run(hits, scores=scores)
    assert (p.channel, p.channel_source, p.disposition) == ("litigation", "rule", "redirect")
    # the overruled arbitration rule is shown to the officer
    assert "conflicting_rules" in {r.code for r in p.review_reasons}


def test_the_basis_rule_says_whether_the_matter_leaves_the_procedure() -> None:
    # A 政府信息公开 request keeps the duty-request channel but goes to its own procedure; a plain
    # duty request on the same channel stays in the 信访 procedure.
    disclosure = make_hit("R-D", channel="duty_request", disposition="redirect", priority=45)
    duty = make_hit("R-Q", channel="duty_request", disposition="accept", priority=40)
    for route in (None, _route("duty_request", 0.9)):
        scores = make_scores().model_copy(update={"route": route})
        assert run([disclosure, duty], scores=scores).disposition == "redirect"
        assert run([duty], scores=scores).disposition == "accept"
    # A rule of a channel the arbiter overruled does not lend its disposition to the chosen one.
    overruled = run([disclosure], scores=make_scores().model_copy(update={"route": _route("ordinary", 0.9)}))
    assert (overruled.channel, overruled.disposition) == ("ordinary", "accept")


def test_a_statutory_route_without_a_rule_or_with_low_confidence_is_reviewed() -> None:
    p = run(scores=make_scores().model_copy(update={"route": _route("litigation", 0.9)}))
    assert (p.channel, p.channel_source) == ("litigation", "model")
    assert "model_rule_disagreement" in {r.code for r in p.review_reasons}
    quiet = run(scores=make_scores().model_copy(update={"route": _route("duty_request", 0.9)}))
    assert quiet.channel == "duty_request" and not quiet.needs_review
    unsure = run(scores=make_scores().model_copy(update={"route": _route("duty_request", 0.4)}))
    assert "low_confidence" in {r.code for r in unsure.review_reasons}


def test_facts_are_shown_with_their_spans_and_choose_the_clocks() -> None:
    from classifier.facts import FactFinding

    facts = {
        "arbitration_done": FactFinding("arbitration_done", 0.9, "text", 3, 9, "仲裁委裁决"),
        "court_pending": FactFinding("court_pending", 0.1, "text", 0, 2, "起诉"),
    }
    letter = make_letter(received_on=dt.date(2026, 12, 1))
    p = propose(
        letter,
        [make_hit(channel="arbitration")],
        make_scores(),
        catalogue=load_catalogue(),
        config=ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
        facts=facts,
    )
    assert [(f.tag, f.start, f.end) for f in p.facts] == [("arbitration_done", 3, 9)]
    # an award exists: no clock for applying to arbitration any more
    assert "labour_arbitration_limit" not in {d.code for d in p.deadlines}
    without = run([make_hit(channel="arbitration")], letter=letter)
    assert "labour_arbitration_limit" in {d.code for d in without.deadlines}


def test_discipline_rule_against_an_appeal_verdict_is_reviewed() -> None:
    p = run([make_hit(channel="discipline", flags=["confidential"])])
    assert p.channel == "discipline" and p.confidential
    assert "model_rule_disagreement" in {r.code for r in p.review_reasons}


@pytest.mark.parametrize(
    ("scores", "code"),
    [
        (make_scores(category={"appeal": 0.4, "suggestion": 0.35, "accusation": 0.25}), "low_confidence"),
        (
            make_scores(department={"housing": 0.5, "urban_management": 0.45, "transport": 0.05}),
            "small_margin",
        ),
        (
            make_scores(department={"housing": 0.32, "urban_management": 0.3, "transport": 0.38}),
            "small_margin",
        ),
        (make_scores(channel={"duty_request": 0.4, "ordinary": 0.35, "suggestion": 0.25}), "low_confidence"),
    ],
    ids=["category-low", "department-margin", "department-close", "channel-low"],
)
def test_uncertain_heads_need_review(scores, code: str) -> None:  # type: ignore[no-untyped-def]
    p = run(scores=scores)
    assert p.needs_review and code in {r.code for r in p.review_reasons}


@pytest.mark.parametrize(
    ("flags", "code"),
    [
        (["urgent"], "urgent"),
        (["multiple_matters"], "multiple_matters"),
        (["representatives_over_limit", "procedural"], "procedural_flag"),
    ],
    ids=["urgent", "multi", "representatives"],
)
def test_flags_need_review(flags: list[str], code: str) -> None:
    p = run([make_hit(kind="flag", channel=None, flags=flags)])
    assert p.needs_review and code in {r.code for r in p.review_reasons}
    assert p.urgent == ("urgent" in flags)
    assert p.channel_source == "model"  # a flag never routes


def test_low_ocr_confidence_needs_review() -> None:
    p = run(letter=make_letter(ocr_confidence=0.5))
    assert "low_ocr_confidence" in {r.code for r in p.review_reasons}


def test_unusable_input_is_never_confident() -> None:
    p = run(problems=[ReviewReason(code="empty_text", message="x")])
    assert p.needs_review and p.confidence == 0.0


def test_deadlines_follow_the_route() -> None:
    ordinary = run(scores=make_scores(channel={"ordinary": 0.9, "duty_request": 0.1}))
    codes = [d.code for d in ordinary.deadlines]
    assert codes[:3] == ["notify_acceptance", "forward", "object_to_misrouting"] and "conclude" in codes
    assert ordinary.deadlines[0].due == dt.date(2026, 12, 16)
    litigation = {d.code: d for d in run([make_hit(channel="litigation")]).deadlines}
    # 第二十三条第四款 takes out only the notice: the 转送 (第二十二条第二款) and 异议 clocks remain
    assert "notify_acceptance" not in litigation
    assert litigation["forward"].basis.startswith("第二十二条第二款") and "object_to_misrouting" in litigation


def test_thresholds_are_config() -> None:
    scores = make_scores(category={"appeal": 0.6, "suggestion": 0.3, "accusation": 0.1})
    assert not any(
        r.code == "low_confidence" and "类别" in r.message for r in run(scores=scores).review_reasons
    )
    strict = ProposalConfig(min_confidence=0.7)
    assert any(
        r.code == "low_confidence" and "类别" in r.message
        for r in run(scores=scores, config=strict).review_reasons
    )


@pytest.mark.parametrize(
    ("urgency", "watch", "prompted"),
    [(0.30, 0.25, True), (0.20, 0.25, False), (0.30, None, False)],
    ids=["at-or-above-the-watch-level", "below-it", "model-without-one"],
)
def test_learned_urgency_below_the_rules_prompts_an_officer_without_the_article_25_flag(
    urgency: float, watch: float | None, prompted: bool
) -> None:
    from classifier.facts import FactFinding

    facts = {"urgent": FactFinding("urgent", urgency, "text", 0, 4, "马上要出事")}
    p = propose(
        make_letter(),
        [],
        make_scores().model_copy(update={"urgent_watch": watch}),
        catalogue=load_catalogue(),
        config=ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
        facts=facts,
    )
    assert not p.urgent  # the flag that reports upward stays with the rules
    assert ("possibly_urgent" in {r.code for r in p.review_reasons}) is prompted


def test_an_urgent_rule_flags_without_a_second_prompt() -> None:
    from classifier.facts import FactFinding

    p = propose(
        make_letter(),
        [make_hit("R-ZD-01", kind="flag", channel=None, flags=["urgent"])],
        make_scores().model_copy(update={"urgent_watch": 0.1}),
        catalogue=load_catalogue(),
        config=ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
        facts={"urgent": FactFinding("urgent", 0.9, "text", 0, 2, "跳楼")},
    )
    codes = [r.code for r in p.review_reasons]
    assert p.urgent and "urgent" in codes and "possibly_urgent" not in codes


@pytest.mark.parametrize(
    ("p_multi", "watch", "flagged_by_rule", "prompted"),
    [(0.12, 0.1, False, True), (0.08, 0.1, False, False), (0.9, None, False, False), (0.6, 0.1, True, False)],
    ids=["at-or-above-the-watch-level", "below-it", "model-without-one", "the-rule-already-flagged-it"],
)
def test_the_learned_multi_head_prompts_for_several_matters_below_the_rule(
    p_multi: float, watch: float | None, flagged_by_rule: bool, prompted: bool
) -> None:
    hits = (
        [make_hit("R-DS-01", kind="flag", channel=None, flags=["multiple_matters"])]
        if flagged_by_rule
        else []
    )
    p = propose(
        make_letter(),
        hits,
        make_scores().model_copy(update={"multi_watch": watch}),
        catalogue=load_catalogue(),
        config=ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
        facts={"multi": FactFinding("multi", p_multi, "text", 0, 4, "一是停水")},
    )
    codes = [r.code for r in p.review_reasons]
    assert ("possibly_multiple_matters" in codes) is prompted
    assert ("multiple_matters" in codes) is flagged_by_rule
    if prompted:
        assert p.needs_review and "第二十四条" in next(
            r.message for r in p.review_reasons if r.code == "possibly_multiple_matters"
        )


def _fact(tag: str, p: float) -> FactFinding:
    return FactFinding(tag=tag, p=p, field="text", start=0, end=2, quote="法院")


def test_a_statutory_fact_the_route_sets_aside_goes_to_review() -> None:
    # The arbiter is sure of a 履职 request, but the letter states a judgment in force.
    scores = make_scores().model_copy(
        update={"route": {"duty_request": 0.95, "litigation": 0.05}, "route_floor": 0.8}
    )
    facts = {"court_decided": _fact("court_decided", 0.45), "labour_dispute": _fact("labour_dispute", 0.2)}
    p = propose(
        make_letter(received_on=dt.date(2026, 12, 1)),
        [],
        scores,
        catalogue=load_catalogue(),
        config=ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
        facts=facts,
    )
    assert p.channel == "duty_request" and p.needs_review
    (reason,) = [r for r in p.review_reasons if r.code == "statutory_fact"]
    # the fact above the floor is named with the channel it points to; the one below is not
    assert "0.45" in reason.message and "涉法涉诉" in reason.message
    assert "劳动" not in reason.message


@pytest.mark.parametrize(
    ("route", "facts", "floor"),
    [
        ({"litigation": 0.95, "duty_request": 0.05}, {"court_decided": 0.9}, 0.3),  # the route takes it
        ({"duty_request": 0.95, "litigation": 0.05}, {"court_decided": 0.25}, 0.3),  # below the floor
        ({"duty_request": 0.95, "litigation": 0.05}, {"civil_dispute": 0.9}, 0.3),  # not a statutory pointer
        ({"duty_request": 0.95, "litigation": 0.05}, {"court_decided": 0.45}, 0.5),  # the office's own floor
    ],
    ids=["route-takes-it", "below-floor", "civil-dispute", "higher-floor"],
)
def test_no_statutory_fact_review_where_the_route_or_the_floor_settles_it(
    route: dict[str, float], facts: dict[str, float], floor: float
) -> None:
    scores = make_scores().model_copy(update={"route": route, "route_floor": 0.8})
    p = propose(
        make_letter(received_on=dt.date(2026, 12, 1)),
        [],
        scores,
        catalogue=load_catalogue(),
        config=ProposalConfig(statutory_fact_review_floor=floor),
        model_version="m1",
        rulebook_version="r1",
        facts={t: _fact(t, v) for t, v in facts.items()},
    )
    assert "statutory_fact" not in {r.code for r in p.review_reasons}


def test_every_statutory_fact_is_a_fact_the_layer_learns_and_points_to_a_statutory_channel() -> None:
    # A misspelt tag would never be found in a letter's facts, and its review would silently stop.
    from classifier.facts import FACT_TAGS
    from routing.proposal import STATUTORY_CHANNELS, STATUTORY_FACT_CHANNELS

    assert set(STATUTORY_FACT_CHANNELS) <= set(FACT_TAGS)
    assert set(STATUTORY_FACT_CHANNELS.values()) <= set(STATUTORY_CHANNELS)
    # the facts that point to no statutory channel, named so that a new fact is a decision
    assert set(FACT_TAGS) - set(STATUTORY_FACT_CHANNELS) == {
        "civil_dispute",
        "third_party_violation",
        "prior_complaint",
        "answered_before",
        "reviewed_before",
        "higher_level_pending",
        "group_action",
        "info_request",
        "self_harm_or_violence",
    }
