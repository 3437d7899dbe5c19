"""Scoring a router on the hand-written routing cases."""

from __future__ import annotations

from factories import make_hit, make_letter, make_scores

from routing.catalogue import load_catalogue
from routing.proposal import ProposalConfig, propose
from routing.schemas import RouteProposal
from training.datasets import RoutingCase
from training.routing_cases import case_results


def _proposal(flags: list[str]) -> RouteProposal:
    hits = [make_hit("R-DS-01", kind="flag", channel=None, flags=flags)] if flags else []
    return propose(
        make_letter(),
        hits,
        make_scores(),
        catalogue=load_catalogue(),
        config=ProposalConfig(),
        model_version="m1",
        rulebook_version="r1",
    )


def _case(multi: bool) -> RoutingCase:
    return RoutingCase(make_letter(), "duty_request", "accept", False, False, False, multi=multi)


def test_letters_of_several_matters_count_as_prompted_only_where_the_proposal_says_so() -> None:
    cases = [_case(True), _case(True), _case(False)]
    proposals = [_proposal(["multiple_matters"]), _proposal([]), _proposal(["multiple_matters"])]
    results = case_results(cases, proposals)
    # the third is prompted but is no letter of several matters: it counts for nothing here
    assert results["multi_signalled"] == (1, 2)
    assert results["cases"] == 3
