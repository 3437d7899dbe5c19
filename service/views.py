"""Stored rows -> output schemas, with the masking the caller's role calls for.

Every ``XPublic`` the API or a page returns is built here, so the decision of what leaves the
service, and masked how, is made in one place and tested once.
"""

from __future__ import annotations

from casework.states import STATE_NAMES, CaseState
from routing.catalogue import Catalogue
from routing.errors import UnknownCodeError
from routing.schemas import FactEvidence, RuleHit
from service import access
from service.schemas import (
    DecisionPublic,
    ExportRow,
    LetterPublic,
    ParticularsPublic,
    ProposalPublic,
    QueueItem,
    UserPublic,
)
from store import masking
from store.letters import QueueItem as StoreQueueItem
from store.models import Decision, Letter, Proposal, User
from store.queries_api import LetterBundle


def letter_state(bundle: LetterBundle) -> access.LetterState:
    return access.letter_state(bundle)


def department_name(catalogue: Catalogue, code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return catalogue.name(code)
    except UnknownCodeError:
        return code  # a code retired from the catalogue still names the stored decision


def _masked_fact(fact: FactEvidence) -> FactEvidence:
    return fact.model_copy(update={"quote": masking.mask_text(fact.quote) or ""})


def _masked_hit(hit: RuleHit) -> RuleHit:
    return hit.model_copy(update={"matched": masking.mask_text(hit.matched) or ""})


def proposal_public(row: Proposal, *, masked: bool) -> ProposalPublic:
    """The stored proposal; with ``masked``, the letter's sentences it quotes are masked like the text.

    A fact's sentence and a rule's matched words are the letter's own text, so a role that reads the
    text masked reads them masked too. Who may see the proposal at all is the letter's rule: the
    caller has checked :func:`service.access.can_read`.
    """
    p = row.route_proposal()
    facts = [_masked_fact(f) for f in p.facts] if masked else list(p.facts)
    hits = [_masked_hit(h) for h in p.rule_hits] if masked else list(p.rule_hits)
    return ProposalPublic(
        id=row.id,
        created_at=row.created_at,
        model_version=row.model_version,
        rulebook_version=row.rulebook_version,
        category=p.category,
        domain=p.domain,
        department=p.department,
        channel=p.channel,
        channel_name=p.channel_name,
        channel_source=p.channel_source,
        channel_scores=list(p.channel_scores[:3]),
        disposition=p.disposition,
        disposition_name=p.disposition_name,
        target_body=p.target_body,
        deadlines=list(p.deadlines),
        routed=p.routed,
        confidential=p.confidential,
        confidential_reason=p.confidential_reason,
        urgent=p.urgent,
        needs_review=p.needs_review,
        review_reasons=list(p.review_reasons),
        rule_hits=hits,
        facts=facts,
        evidence={k: list(v) for k, v in p.evidence.items()},
        confidence=p.confidence,
    )


def decision_public(row: Decision, catalogue: Catalogue) -> DecisionPublic:
    return DecisionPublic(
        id=row.id,
        proposal_id=row.proposal_id,
        supersedes_id=row.supersedes_id,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        category=row.category,
        domain=row.domain,
        department=row.department,
        department_name=department_name(catalogue, row.department) or row.department,
        channel=row.channel,
        disposition=row.disposition,
        agreed_with_proposal=row.agreed_with_proposal,
        changed_fields=list(row.changed_fields),
        reason=row.reason,
        comment=row.comment,
    )


def particulars_public(letter: Letter, unmasked: bool) -> ParticularsPublic:
    if unmasked:
        return ParticularsPublic(
            petitioner_name=letter.petitioner_name,
            petitioner_organisation=letter.petitioner_organisation,
            id_number=letter.id_number,
            address=letter.address,
            contact_phone=letter.contact_phone,
            request=letter.request,
            facts=letter.facts,
            reasons=letter.reasons,
            masked=False,
        )
    m = masking.mask_letter_particulars(letter)
    return ParticularsPublic(
        petitioner_name=m["petitioner_name"],
        petitioner_organisation=m["petitioner_organisation"],
        id_number=m["id_number"],
        address=m["address"],
        contact_phone=m["contact_phone"],
        request=masking.mask_text(letter.request),
        facts=masking.mask_text(letter.facts),
        reasons=masking.mask_text(letter.reasons),
        masked=True,
    )


def letter_public(bundle: LetterBundle, user: access.UserLike, catalogue: Catalogue) -> LetterPublic:
    """The letter as ``user`` may see it. The caller has checked :func:`service.access.can_read`."""
    state = letter_state(bundle)
    unmasked = access.sees_particulars(user, state)
    letter = bundle.letter
    return LetterPublic(
        case_number=letter.case_number,
        title=access.shown_title(
            user,
            letter.title,
            file_id=letter.source_file_id,
            file_letters=[access.LetterState(p, d, body) for p, d, body in bundle.file_letters],
        ),
        text=letter.text if unmasked else (masking.mask_text(letter.text) or ""),
        form=letter.form,  # type: ignore[arg-type]
        received_on=letter.received_on,
        visitors=letter.visitors,
        particulars=particulars_public(letter, unmasked),
        source=letter.source,
        created_by=letter.created_by,
        created_at=letter.created_at,
        status=letter.status,  # type: ignore[arg-type]
        version=letter.version,
        confidential=state.confidential,
        merged_into=letter.merged_into.case_number if letter.merged_into is not None else None,
        proposal=proposal_public(bundle.proposal, masked=not unmasked)
        if bundle.proposal is not None
        else None,
        decisions=[decision_public(d, catalogue) for d in bundle.decisions],
    )


def queue_item(item: StoreQueueItem, catalogue: Catalogue) -> QueueItem:
    return QueueItem(
        case_number=item.case_number,
        title=masking.mask_text(item.title) or "",
        form=item.form,  # type: ignore[arg-type]
        received_on=item.received_on,
        status=item.status,  # type: ignore[arg-type]
        category=item.category,
        domain=item.domain,
        department=item.department,
        department_name=department_name(catalogue, item.department),
        channel=item.channel,
        confidential=item.confidential,
        urgent=item.urgent,
        needs_review=item.needs_review,
        earliest_due=item.earliest_due,
        overdue=item.overdue,
        case_state=item.case_state,
        case_state_name=STATE_NAMES.get(CaseState(item.case_state)) if item.case_state else None,
        next_due=item.next_due,
        case_overdue=item.case_overdue,
        open_escalation=item.open_escalation,
    )


def export_row(item: StoreQueueItem, letter: Letter, decision: Decision | None, unmasked: bool) -> ExportRow:
    name = letter.petitioner_name or letter.petitioner_organisation
    return ExportRow(
        case_number=letter.case_number,
        received_on=letter.received_on,
        form=letter.form,  # type: ignore[arg-type]
        status=letter.status,  # type: ignore[arg-type]
        petitioner=name if unmasked else masking.mask_name(name),
        category=item.category,
        domain=item.domain,
        department=item.department,
        channel=item.channel,
        disposition=decision.disposition if decision is not None else None,
        confidential=item.confidential,
        agreed_with_proposal=decision.agreed_with_proposal if decision is not None else None,
        decided_at=decision.decided_at if decision is not None else None,
    )


def user_public(user: User) -> UserPublic:
    return UserPublic(
        username=user.username,
        display_name=user.display_name,
        role=user.role,  # type: ignore[arg-type]
        department=user.department,
        active=user.active,
    )
