"""The workbench's operations, shared by the JSON routes and the pages so both behave the same.

Each function takes the open session, the acting user and plain values; it calls ``routing`` for
the proposal and ``store`` for persistence and the audit log, and checks the permission policy of
``service.access``. The request's unit of work (``api.deps.SessionDep``) commits at the end, so a
letter and its proposal are stored together or not at all. The two writes (registering,
deciding) commit themselves as soon as their rows are in: the store locks the audit log's head
for the whole transaction, and building the response must not keep every other officer waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from casework.cases import case_of, sync_case
from routing.catalogue import Catalogue
from routing.schemas import Letter as RoutingLetter
from service import access
from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.schemas import DecisionCreate, EarlierLetterPublic, LetterCreate, LetterMerge, LetterSplit
from store.audit import append_event, append_event_at_commit
from store.errors import NotFoundError
from store.letters import add_proposal, china_today, create_letter, decide
from store.models import Decision, User
from store.queries_api import LetterBundle, letter_bundle


@dataclass(frozen=True)
class Registered:
    bundle: LetterBundle
    readable: bool
    #: The earlier letters of the same petitioner or matter the registering officer may open.
    earlier: list[EarlierLetterPublic] = field(default_factory=list)


def register_letter(session: Session, router: Any, user: User, payload: LetterCreate) -> Registered:
    """Route a letter and store it with its proposal; returns whether ``user`` may read it back.

    The proposal is made before the letter is stored: the case-number counter is locked from the
    moment a number is taken until the transaction ends, and routing inside that window would make
    every other registration wait for the model.
    """
    if user.role not in access.REGISTER_LETTERS:
        raise Forbidden(f"{role_name(user.role)}不能登记来信，请交接待／办信人员登记")
    received_on = payload.received_on or china_today()
    # End the transaction that signed the user in before the model runs: on SQLite every
    # transaction holds the database's write lock, and nobody should wait for the model.
    session.commit()
    proposal = router.propose(
        RoutingLetter(
            title=payload.title,
            text=payload.text,
            received_on=received_on,
            form=payload.form,
            visitors=payload.visitors,
        )
    )
    letter = create_letter(
        session,
        title=payload.title,
        text=payload.text,
        created_by=user.username,
        form=payload.form,
        received_on=received_on,
        visitors=payload.visitors,
        petitioner_name=payload.petitioner_name,
        petitioner_organisation=payload.petitioner_organisation,
        address=payload.address,
        contact_phone=payload.contact_phone,
        id_number=payload.id_number,
        request=payload.request,
        facts=payload.facts,
        reasons=payload.reasons,
    )
    row = add_proposal(session, letter.id, proposal.model_copy(update={"letter_id": letter.case_number}))
    session.refresh(letter, ["version"])
    session.commit()
    bundle = LetterBundle(letter=letter, proposal=row, decisions=[])
    readable = access.can_read(user, access.LetterState(proposal=row, decision=None))
    # service.repeats opens letters through this module, so it is imported where it is used.
    from service.repeats import earlier_list

    # Read after the commit: the officer sees at once whether the petitioner wrote before.
    return Registered(bundle=bundle, readable=readable, earlier=earlier_list(session, user, letter))


def role_name(role: str) -> str:
    """The role as officers call it (科室负责人), for messages that say who may not do what."""
    return access.ROLE_NAMES.get(role, role)


def _hidden(case_number: str) -> NotFound:
    # The same answer as for a case number that does not exist, so a handler cannot even learn that
    # a confidential letter with that number is there.
    return NotFound(f"没有您可以查看的案件编号为“{case_number}”的信访事项，请核对案件编号")


def open_letter(session: Session, user: User, case_number: str, *, purpose: str = "view") -> LetterBundle:
    """Load a letter for ``user`` or refuse as if it did not exist; audits views of confidential ones."""
    if user.role not in access.READ_LETTERS:
        raise Forbidden(f"{role_name(user.role)}不能查看信访事项")
    try:
        bundle = letter_bundle(session, case_number)
    except NotFoundError:
        raise _hidden(case_number) from None
    state = access.letter_state(bundle)
    if not access.can_read(user, state):
        if state.confidential:
            # A refused look at a confidential letter is worth knowing about too.
            append_event(
                session,
                actor=user.username,
                action="view_confidential",
                object=f"letter:{bundle.letter.case_number}",
                details={"allowed": False, "purpose": purpose},
            )
            # The refusal rolls the request back; the record of the attempt must survive it.
            session.commit()
        raise _hidden(case_number)
    if state.confidential:
        # Written when the request commits: logged now, it would hold the audit log's head, which
        # every other officer's write waits for, while the rest of the request runs.
        append_event_at_commit(
            session,
            actor=user.username,
            action="view_confidential",
            object=f"letter:{bundle.letter.case_number}",
            details={"allowed": True, "purpose": purpose},
        )
    return bundle


def decide_letter(
    session: Session, user: User, case_number: str, payload: DecisionCreate, catalogue: Catalogue
) -> Decision:
    """Record ``user``'s decision; fields left empty keep the proposed value."""
    bundle = open_letter(session, user, case_number, purpose="decide")
    state = access.letter_state(bundle)
    if not access.can_decide(user, state):
        raise Forbidden(
            f"{role_name(user.role)}可以查看本件，但不能确认分流；请交接待／办信人员或科室负责人确认"
        )
    if bundle.proposal is None:
        raise NotFound(f"{case_number} 还没有办理建议，请先生成办理建议再确认")
    case = case_of(session, bundle.letter) if bundle.letter.status != "merged" else None
    if case is not None and not case.may_decide:
        # Past 转送/交办 the route is the handling body's case: changing it here would leave the
        # body handling a matter the office has sent elsewhere.
        raise Conflict(
            f"{case_number} 处于「{case.state_name}」，不能再更改分流；"
            "承办单位有异议的，由其退回（第二十三条第三款）后再重新确定去向"
        )
    proposed = bundle.proposal.field_values()
    if not bundle.proposal.proposal.get("routed", True):
        # The machine proposed no route for an unreadable letter: its stored fields are placeholders,
        # so nothing may be taken from them.
        missing = [
            name
            for name, given in (
                ("类别", payload.category),
                ("领域", payload.domain),
                ("承办部门", payload.department),
                ("处理途径", payload.channel),
                ("处理方式", payload.disposition),
            )
            if not given
        ]
        if missing:
            raise InvalidInput(
                f"信件{case_number}没有分流建议（内容无法识别），请逐项填写：{'、'.join(missing)}"
            )
    values = {
        "category": payload.category.value if payload.category else proposed["category"],
        "domain": payload.domain or proposed["domain"],
        "department": payload.department or proposed["department"],
        "channel": payload.channel.value if payload.channel else proposed["channel"],
        "disposition": payload.disposition.value if payload.disposition else proposed["disposition"],
    }
    decision = decide(
        session,
        bundle.letter.id,
        expected_version=payload.letter_version,
        decided_by=user.username,
        reason=payload.reason,
        comment=payload.comment,
        proposal_id=payload.proposal_id,
        # With the names, a refusal names the departments rather than their codes.
        department_codes={d.code: d.name for d in catalogue.departments},
        category=values["category"],
        domain=values["domain"],
        department=values["department"],
        channel=values["channel"],
        disposition=values["disposition"],
    )
    # The case's cached row (state, body, next due date) follows the decision in its transaction.
    sync_case(session, bundle.letter.id)
    session.commit()
    return decision


def record_export(
    session: Session, user: User, *, what: str, count: int, masked: bool, filters: dict[str, object]
) -> None:
    append_event(
        session,
        actor=user.username,
        action="export",
        object=what,
        details={"rows": count, "masked": masked, "filters": {k: str(v) for k, v in filters.items()}},
    )


def _may_regroup(user: User, bundle: LetterBundle) -> None:
    # Regrouping changes what a route is decided on, so it takes the right to decide that letter.
    if not access.can_decide(user, access.letter_state(bundle)):
        raise Forbidden(
            f"{role_name(user.role)}不能拆分或合并 {bundle.letter.case_number}，"
            "请交负责确认该件分流的人员办理"
        )


def _routing_letter(letter: Any, text: str, received_on: Any) -> RoutingLetter:
    return RoutingLetter(
        title=letter.title, text=text, received_on=received_on, form=letter.form, visitors=letter.visitors
    )


def _add_regrouped_proposal(session: Session, letter: Any, proposal: Any, *, confidential: bool) -> None:
    # A part of a confidential letter stays confidential whatever the model now thinks of it: the
    # other part may still name the person accused or the one who accused them (条例 第四十六条).
    update: dict[str, Any] = {"letter_id": letter.case_number}
    if confidential:
        update["confidential"] = True
    add_proposal(session, letter.id, proposal.model_copy(update=update))


def split_letter(
    session: Session, router: Any, user: User, case_number: str, payload: LetterSplit
) -> list[LetterBundle]:
    """Split a pending letter in two, route both parts and store their proposals.

    Returns the two letters (the original first), as bundles for the response.
    """
    from store import regroup

    bundle = open_letter(session, user, case_number, purpose="split")
    _may_regroup(user, bundle)
    letter = bundle.letter
    confidential = access.letter_state(bundle).confidential
    first, second = regroup.split_texts(letter.text, payload.at)
    # Route outside any transaction (see register_letter); the version check below catches a change
    # made meanwhile.
    session.commit()
    proposals = router.propose_many(
        [
            _routing_letter(letter, first, letter.received_on),
            _routing_letter(letter, second, letter.received_on),
        ]
    )
    result = regroup.split_letter(
        session,
        letter.id,
        at=payload.at,
        expected_version=payload.letter_version,
        actor=user.username,
        reason=payload.reason,
        pages_from=payload.pages_from,
    )
    for row, proposal in zip((result.first, result.second), proposals, strict=True):
        _add_regrouped_proposal(session, row, proposal, confidential=confidential)
    session.commit()
    return [
        letter_bundle(session, result.first.case_number),
        letter_bundle(session, result.second.case_number),
    ]


def merge_letters(
    session: Session, router: Any, user: User, case_number: str, payload: LetterMerge
) -> LetterBundle:
    """Merge another pending letter into this one, route the whole and store its proposal."""
    from store import regroup

    keep = open_letter(session, user, case_number, purpose="merge")
    other = open_letter(session, user, payload.other_case_number, purpose="merge")
    _may_regroup(user, keep)
    _may_regroup(user, other)
    confidential = any(access.letter_state(b).confidential for b in (keep, other))
    text = regroup.merged_text(keep.letter.text, other.letter.text)
    received_on = min(keep.letter.received_on, other.letter.received_on)
    session.commit()
    proposal = router.propose(_routing_letter(keep.letter, text, received_on))
    kept = regroup.merge_letters(
        session,
        keep.letter.id,
        other.letter.id,
        keep_version=payload.letter_version,
        merged_version=payload.other_version,
        actor=user.username,
        reason=payload.reason,
    )
    _add_regrouped_proposal(session, kept, proposal, confidential=confidential)
    session.commit()
    return letter_bundle(session, kept.case_number)
