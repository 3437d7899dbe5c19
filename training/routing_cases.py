"""How a router does on the hand-written routing cases checked against the law (``routing_cases.jsonl``).

The cases teach the channel arbiter (``classifier/arbiter.py``), so the router that ships has seen
them; its score on them is an in-sample number. :func:`cross_validated_proposals` routes each case
with an arbiter fitted without that case's fold, the number that says how the arbiter does on cases
it never saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from classifier.arbiter import ChannelArbiter
from routing.router import Router
from routing.schemas import SEVERAL_MATTERS_REASONS, RouteProposal
from training.datasets import RoutingCase


def put_before_officer(p: RouteProposal) -> bool:
    """Urgent flag, or the weaker 可能紧急 prompt: either way an officer is asked to judge it."""
    return bool(p.urgent) or any(r.code == "possibly_urgent" for r in p.review_reasons)


def prompts_several_matters(p: RouteProposal) -> bool:
    """The 第二十四条 flag or the weaker 可能一信多事 prompt."""
    return any(r.code in SEVERAL_MATTERS_REASONS for r in p.review_reasons)


def case_results(cases: Sequence[RoutingCase], proposals: Sequence[RouteProposal]) -> dict[str, Any]:
    """Right routes (channel and disposition), quiet traps, urgent letters flagged, accusations held
    confidential, letters of several matters prompted, and the cases still wrong with what was
    expected and proposed."""
    right, wrong = 0, []
    traps = urgent = accusations = 0
    traps_quiet = urgent_flagged = urgent_signalled = confidential_ok = 0
    over_confidential = multi = multi_signalled = 0
    for c, p in zip(cases, proposals, strict=True):
        ok = p.channel == c.channel and p.disposition == c.disposition
        right += ok
        if not ok:
            wrong.append((str(c.letter.id), f"{c.channel}/{c.disposition}", f"{p.channel}/{p.disposition}"))
        if c.trap:
            traps += 1
            traps_quiet += ok
        if c.urgent:
            urgent += 1
            urgent_flagged += p.urgent
            urgent_signalled += put_before_officer(p)
        if c.multi:
            multi += 1
            multi_signalled += prompts_several_matters(p)
        # By the cases' convention only an accusation (routed to discipline) is confidential.
        if c.confidential:
            accusations += 1
            confidential_ok += p.confidential
        elif p.confidential:
            over_confidential += 1
    return {
        "cases": len(cases),
        "right": right,
        "wrong": wrong,
        "traps": (traps_quiet, traps),
        "urgent": (urgent_flagged, urgent),
        "urgent_signalled": (urgent_signalled, urgent),
        "accusations_confidential": (confidential_ok, accusations),
        "other_confidential": over_confidential,
        "multi_signalled": (multi_signalled, multi),
    }


def cross_validated_proposals(
    router: Router,
    case_folds: Sequence[tuple[Sequence[int], ChannelArbiter]],
    cases: Sequence[RoutingCase],
) -> list[RouteProposal]:
    """Each case routed by ``router`` with the arbiter of the fold that left the case out."""
    out: dict[int, RouteProposal] = {}
    for held, arbiter in case_folds:
        without = dataclasses.replace(router, model=dataclasses.replace(router.model, arbiter=arbiter))
        for i, proposal in zip(held, without.propose_many([cases[i].letter for i in held]), strict=True):
            out[i] = proposal
    if sorted(out) != list(range(len(cases))) or sum(len(held) for held, _ in case_folds) != len(cases):
        raise ValueError("the case folds do not cover every case exactly once")
    return [out[i] for i in range(len(cases))]


__all__ = ["case_results", "cross_validated_proposals", "prompts_several_matters", "put_before_officer"]
