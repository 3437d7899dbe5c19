"""Earlier letters of the same petitioner or matter, as a reader may see them, and the officer's
"unrelated" marks (重复信访, 一事一码).

Who sees what: the list is built in the store under the reader's scope (``access.scope_of``, the
SQL form of ``store.confidentiality``), so a confidential earlier letter is not there for a role
that may not open it, not as a row, a case number or a count. A title is shown as the letter page
shows it (withheld when it came from a file name the reader may not see, masked unless the reader
sees the letter's particulars).

Marking an earlier letter unrelated, or clearing the mark, is an office decision on the letter: the
roles that decide routes, on a letter they may decide, about an earlier letter they may open.
Linking a letter to an earlier case as the same matter is the case's own flow
(``service.cases.link``).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from casework.states import STATE_NAMES, CaseState
from classifier.similarity import SAME_MATTER_THRESHOLD, encoder_scores
from routing.codes import CHANNEL_NAMES, DISPOSITION_NAMES
from service import access
from service.errors import Conflict, Forbidden, InvalidInput
from service.schemas import (
    EarlierLetterPublic,
    EarlierLettersPublic,
    UnrelatedCreate,
    UnrelatedPublic,
    UnrelatedResult,
)
from service.workflows import open_letter, role_name
from store import masking
from store.errors import InvalidStateError, InvalidValueError
from store.models import Letter, User
from store.repeats import (
    EarlierLetter,
    clear_unrelated,
    earlier_letters,
    file_letter_states,
    letters_with_earlier,
    mark_unrelated,
)

#: How many earlier letters a page, the API and a registration answer list at most.
DEFAULT_LIMIT = 20


def _state_name(state: str) -> str:
    try:
        return STATE_NAMES[CaseState(state)]
    except ValueError:
        return state


def _public(
    user: User, found: list[EarlierLetter], titles: dict[int, str], encoder: list[float] | None
) -> list[EarlierLetterPublic]:
    return [
        EarlierLetterPublic(
            case_number=e.case_number,
            title=titles[e.letter_id],
            received_on=e.received_on,
            status=e.status,  # type: ignore[arg-type]
            state=e.state,
            state_name=_state_name(e.state),
            disposition=e.decision_disposition,
            disposition_name=DISPOSITION_NAMES.get(e.decision_disposition or "")
            if e.decision_disposition
            else None,
            channel=e.decision_channel,
            channel_name=CHANNEL_NAMES.get(e.decision_channel or "") if e.decision_channel else None,
            decided_at=e.decided_at,
            why=list(e.why),
            why_names=list(e.why_names),
            score=e.score,
            same_matter=e.same_matter,
            encoder_score=round(encoder[i], 4) if encoder is not None else None,
            linked=e.linked,
            unrelated=UnrelatedPublic(
                marked_by=e.unrelated.marked_by, marked_at=e.unrelated.marked_at, reason=e.unrelated.reason
            )
            if e.unrelated is not None
            else None,
        )
        for i, e in enumerate(found)
    ]


def _titles(session: Session, user: User, found: list[EarlierLetter]) -> dict[int, str]:
    files = file_letter_states(session, [e.source_file_id for e in found if e.source_file_id is not None])
    titles: dict[int, str] = {}
    for e in found:
        states = [access.LetterState(p, d, body) for p, d, body in files.get(e.source_file_id or 0, [])]
        title = access.shown_title(user, e.title, file_id=e.source_file_id, file_letters=states)
        # The reader may open the letter (the scope admitted it); its particulars, and a phone number
        # in its title, only as its page would show them.
        unmasked = (
            (user.role in access.CONFIDENTIAL_READERS)
            if e.confidential
            else (user.role in access.UNMASKED_ON_LETTER)
        )
        titles[e.letter_id] = title if unmasked else (masking.mask_text(title) or "")
    return titles


def earlier_list(
    session: Session, user: User, letter: Letter, *, limit: int = DEFAULT_LIMIT, with_encoder: bool = False
) -> list[EarlierLetterPublic]:
    """The earlier letters of ``letter`` that ``user`` may open, newest first. The caller has opened
    ``letter`` for ``user`` (``workflows.open_letter``) or just registered it.

    ``with_encoder``: also the sentence encoder's score of each pair, when the ``embeddings`` extra
    is installed (it loads a model, so only where an officer reads the list).
    """
    if user.role not in access.READ_LETTERS:
        return []
    scope = access.scope_of(user)
    try:
        found = earlier_letters(
            session,
            letter,
            limit=limit,
            confidential=scope.confidential,
            routed_department=scope.routed_department,
        )
    except InvalidValueError as exc:
        raise InvalidInput(str(exc)) from exc
    encoder = None
    if with_encoder and found:
        others = {e.letter_id: session.get(Letter, e.letter_id) for e in found}
        encoder = encoder_scores(
            [
                (letter.title, letter.text, other.title, other.text)
                for other in (others[e.letter_id] for e in found)
                if other is not None
            ]
        )
    return _public(user, found, _titles(session, user, found), encoder)


def earlier_for(
    session: Session, user: User, case_number: str, *, limit: int = DEFAULT_LIMIT
) -> EarlierLettersPublic:
    """``GET /letters/{case_number}/earlier``: the letter is opened as its page would be (404 when
    the caller may not), then its earlier letters listed."""
    bundle = open_letter(session, user, case_number, purpose="earlier letters")
    data = earlier_list(session, user, bundle.letter, limit=limit, with_encoder=True)
    return EarlierLettersPublic(
        case_number=bundle.letter.case_number, data=data, count=len(data), threshold=SAME_MATTER_THRESHOLD
    )


def earlier_counts(session: Session, user: User, letters: list[Letter]) -> dict[int, int]:
    """How many earlier letters ``user`` may open for each of ``letters`` (unrelated ones left out)."""
    if user.role not in access.READ_LETTERS or not letters:
        return {}
    scope = access.scope_of(user)
    return letters_with_earlier(
        session, letters, confidential=scope.confidential, routed_department=scope.routed_department
    )


def set_unrelated(
    session: Session, user: User, case_number: str, payload: UnrelatedCreate
) -> UnrelatedResult:
    """Mark an earlier letter as not this letter's matter, or clear the mark (``payload.clear``).

    Raises:
        Forbidden: the role does not decide routes, or may not decide this letter.
        NotFound: either letter does not exist or the caller may not open it (the same answer).
        InvalidInput: the letter itself, or a letter that is not earlier.
        Conflict: the earlier letter is linked to this one as the same matter.
    """
    if user.role not in access.DECIDE_LETTERS:
        raise Forbidden(f"{role_name(user.role)}不能标记无关来信；请交接待／办信人员或科室负责人处理")
    bundle = open_letter(session, user, case_number, purpose="unrelated")
    state = access.letter_state(bundle)
    if not access.can_decide(user, state):
        raise Forbidden(f"{role_name(user.role)}可以查看本件，但不能标记无关来信")
    other = open_letter(session, user, payload.earlier_case_number, purpose="unrelated")
    try:
        if payload.clear:
            changed = clear_unrelated(session, bundle.letter, other.letter, actor=user.username)
        else:
            _, changed = mark_unrelated(
                session, bundle.letter, other.letter, actor=user.username, reason=payload.reason
            )
    except InvalidValueError as exc:
        raise InvalidInput(str(exc)) from exc
    except InvalidStateError as exc:
        raise Conflict(str(exc)) from exc
    return UnrelatedResult(
        case_number=bundle.letter.case_number,
        earlier_case_number=other.letter.case_number,
        unrelated=not payload.clear,
        changed=changed,
    )
