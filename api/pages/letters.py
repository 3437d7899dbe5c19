"""The queue, the register-a-letter form and the letter page with its proposal and decision form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api import presenters
from api.deps import CatalogueDep, PageUser, RouterDep, SessionDep, SettingsDep
from api.errors import status_of
from api.pages.case_section import CaseInput, case_section
from api.pages.csrf import CsrfChecked
from api.pages.render import FACT_NAMES, FIELD_NAMES, render
from api.responses import page_image_response
from classifier.normalize import normalize
from classifier.similarity import SAME_MATTER_THRESHOLD
from intake.batch import BATCH_ACTOR
from routing.catalogue import Catalogue
from routing.codes import DOMAINS
from routing.schemas import FactEvidence, RuleHit
from service import access, repeats, views, workflows
from service.errors import Conflict, Forbidden, InvalidInput, ServiceError
from service.schemas import DecisionCreate, LetterCreate, LetterPublic, QueuePublic, UnrelatedCreate
from service.uploads import read_text_upload
from store import masking
from store.errors import ConflictError, InvalidValueError, NotFoundError
from store.letters import FIELD_LABELS, china_today
from store.queries_api import QUEUE_ORDERS, LetterBundle, letter_bundle, list_queue_for

router = APIRouter()

_FILTERS = ("form", "category", "department", "status", "overdue", "needs_review")


# Pydantic's messages are English; the registration form says the same in the officer's words.
_PROBLEMS = {
    "missing": "必填",
    "string_too_short": "不能为空",
    "string_too_long": "过长，最多 {max_length} 字",
    "int_parsing": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "date_parsing": "不是日期，请写成 2026-12-01 的形式",
    "date_from_datetime_parsing": "不是日期，请写成 2026-12-01 的形式",
    "literal_error": "不是可选的值，请从列表中选择",
    "enum": "不是可选的值，请从列表中选择",
    "extra_forbidden": "不是登记表的一项",
}


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        field = loc[0] if loc else ""
        if e["type"] == "value_error":
            # The schema's own checks word their messages for the officer already.
            message = str(e.get("ctx", {}).get("error", e["msg"]))
        else:
            message = _PROBLEMS.get(e["type"], "填写有误").format(**e.get("ctx", {}))
        label = FIELD_LABELS.get(field, "") if field else ""
        out.append({"loc": loc, "label": label or "登记信息", "msg": message, "type": e["type"]})
    return out


@router.get("/")
def queue(request: Request, session: SessionDep, user: PageUser, catalogue: CatalogueDep) -> Response:
    if user.role == access.ADMINISTRATOR:
        return RedirectResponse("/admin/users", status_code=303)
    q = request.query_params
    filters: dict[str, Any] = {
        "form": q.get("form") or None,
        "category": q.get("category") or None,
        "department": q.get("department") or None,
        # A handler's letters are decided ones (transferred or assigned to their department).
        "status": q.get("status") or ("decided" if user.role == access.HANDLER else "pending"),
        # 仅超期: the date next due has passed (the case's once it has taken a step).
        "overdue": q.get("overdue") == "true",
        "needs_review": True if q.get("needs_review") == "true" else None,
        "order": q.get("order") if q.get("order") in QUEUE_ORDERS else "urgency",
    }
    if filters["status"] not in ("pending", "decided", "all"):
        filters["status"] = "pending"
    page = list_queue_for(
        session,
        **access.queue_scope(user),  # type: ignore[arg-type]
        form=filters["form"],
        category=filters["category"],
        department=filters["department"],
        needs_review=filters["needs_review"],
        status=None if filters["status"] == "all" else filters["status"],
        limit=200,
        order=filters["order"],
        only_overdue=filters["overdue"],
    )
    public = QueuePublic(
        data=[views.queue_item(i, catalogue) for i in page.items], count=page.count, counts=page.counts
    )
    notice = request.session.pop("queue_notice", None)
    return render(
        request,
        "queue.html",
        {
            "user": user,
            "page": public,
            "filters": filters,
            "departments": catalogue.departments,
            "orders": QUEUE_ORDERS,
            "notice": notice if isinstance(notice, str) else None,
        },
    )


def _new_form(
    request: Request,
    user: Any,
    settings: Any,
    values: dict[str, Any],
    error: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "new_letter.html",
        {
            "user": user,
            "values": values,
            "error": error,
            "errors": errors or [],
            "today": china_today().isoformat(),
            "max_upload_mb": settings.max_upload_bytes // (1024 * 1024),
        },
        status_code=status_code,
    )


@router.get("/letters/new")
def new_letter_form(request: Request, user: PageUser, settings: SettingsDep) -> Response:
    if user.role not in access.REGISTER_LETTERS:
        raise Forbidden(f"{workflows.role_name(user.role)}不能登记来信，请交接待／办信人员登记")
    return _new_form(request, user, settings, {})


_TEXT_FIELDS = (
    "title",
    "text",
    "form",
    "received_on",
    "visitors",
    "petitioner_name",
    "petitioner_organisation",
    "id_number",
    "address",
    "contact_phone",
    "request",
    "facts",
    "reasons",
)


@router.post("/letters/new", dependencies=[CsrfChecked])
def register(
    request: Request,
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
    router_: RouterDep,
    title: Annotated[str, Form(max_length=500)] = "",
    text: Annotated[str, Form(max_length=500_000)] = "",
    form: Annotated[str, Form(max_length=16)] = "letter",
    received_on: Annotated[str, Form(max_length=10)] = "",
    visitors: Annotated[str, Form(max_length=6)] = "",
    petitioner_name: Annotated[str, Form(max_length=200)] = "",
    petitioner_organisation: Annotated[str, Form(max_length=300)] = "",
    id_number: Annotated[str, Form(max_length=18)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    contact_phone: Annotated[str, Form(max_length=40)] = "",
    request_: Annotated[str, Form(alias="request", max_length=20_000)] = "",
    facts: Annotated[str, Form(max_length=50_000)] = "",
    reasons: Annotated[str, Form(max_length=50_000)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if user.role not in access.REGISTER_LETTERS:
        raise Forbidden(f"{workflows.role_name(user.role)}不能登记来信，请交接待／办信人员登记")
    values: dict[str, Any] = {
        "title": title,
        "text": text,
        "form": form,
        "received_on": received_on,
        "visitors": visitors,
        "petitioner_name": petitioner_name,
        "petitioner_organisation": petitioner_organisation,
        "id_number": id_number,
        "address": address,
        "contact_phone": contact_phone,
        "request": request_,
        "facts": facts,
        "reasons": reasons,
    }
    if file is not None and file.filename:
        try:
            _, values["text"] = read_text_upload(
                file.filename, file.content_type, file.file, settings.max_upload_bytes
            )
        except ServiceError as exc:
            return _new_form(request, user, settings, values, error=exc.message, status_code=status_of(exc))
    payload_values = {k: v for k, v in values.items() if v not in ("", None)}
    try:
        payload = LetterCreate.model_validate(payload_values)
    except ValidationError as exc:
        return _new_form(
            request,
            user,
            settings,
            values,
            error="登记信息有误，请检查后重新提交。",
            errors=_validation_errors(exc),
            status_code=422,
        )
    try:
        registered = workflows.register_letter(session, router_, user, payload)
    except InvalidValueError as exc:
        session.rollback()
        return _new_form(request, user, settings, values, error=str(exc), status_code=422)
    case_number = registered.bundle.letter.case_number
    if registered.readable:
        if registered.earlier:
            # Said once on the letter page, above the list itself: check it before deciding.
            same = sum(e.same_matter for e in registered.earlier)
            request.session["earlier_notice"] = (
                f"已登记。发现 {len(registered.earlier)} 封同一信访人或内容相近的在先来信"
                + (f"，其中 {same} 封可能是同一事项" if same else "")
                + "，请核对后再确认分流。"
            )
        return RedirectResponse(f"/letters/{case_number}", status_code=303)
    return render(
        request,
        "registered.html",
        {
            "user": user,
            "case_number": case_number,
            "qr": presenters.qr_svg(case_number),
            "confidential": views.letter_state(registered.bundle).confidential,
            "earlier": registered.earlier,
        },
        status_code=201,
    )


@dataclass(frozen=True)
class Mark:
    """A run of the letter's text and everything that marks it: rules, model words, legal facts.

    The runs of one field never overlap, so each is one ``<mark>`` (or plain text) and overlapping
    matches cannot nest tags wrongly; a run inside two matches carries both.
    """

    text: str
    rules: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    hit_numbers: tuple[int, ...] = ()
    facts: tuple[str, ...] = ()

    @property
    def marked(self) -> bool:
        return bool(self.rules or self.words or self.facts)

    @property
    def css(self) -> str:
        kinds = (("rule", self.rules), ("word", self.words), ("fact", self.facts))
        return " ".join(name for name, present in kinds if present)

    @property
    def fact_names(self) -> str:
        return "、".join(FACT_NAMES.get(tag, tag) for tag in self.facts)


def mark_field(
    text: str,
    hits: Sequence[RuleHit],
    field_name: str,
    words: Sequence[str] = (),
    facts: Sequence[FactEvidence] = (),
    bounds: presenters.WordBounds | None = None,
) -> list[Mark]:
    """Cut one field (``"title"`` or ``"text"``) at every boundary of a rule match, word or fact span.

    The rule and word runs are :func:`api.presenters.highlight`'s; the fact spans cut them further.
    Every span is widened to whole words, so no mark splits a word. A hit on the letter's metadata
    alone (a visit's head count) or a fact rule whose fact has no sentence marks no text, so it is
    left out here but keeps its number. A fact span outside the field marks nothing (the fact list
    still quotes it). ``bounds`` are the field's words, segmented here when omitted.
    """
    spanned = [(n, h) for n, h in enumerate(hits, 1) if h.end > h.start]
    numbers = [n for n, _ in spanned]
    spans = [
        (f.start, f.end, f.tag) for f in facts if f.field == field_name and 0 <= f.start < f.end <= len(text)
    ]
    if bounds is None and (spans or spanned or words):
        bounds = presenters.WordBounds.of(text)
    segments = presenters.highlight(text, [h for _, h in spanned], field_name, words, bounds)
    if bounds is not None:
        spans = [(*bounds.widen(s, e), tag) for s, e, tag in spans]
    out: list[Mark] = []
    pos = 0
    for seg in segments:
        a, b = pos, pos + len(seg.text)
        pos = b
        cuts = sorted({a, b} | {x for s, e, _ in spans for x in (s, e) if a < x < b})
        for x, y in pairwise(cuts):
            tags = tuple(dict.fromkeys(tag for s, e, tag in spans if s <= x and y <= e))
            # A rule's reference number goes after its last character, so on the last piece only.
            hit_numbers = tuple(numbers[n - 1] for n in seg.hit_numbers) if y == b else ()
            out.append(Mark(text[x:y], seg.rules, seg.words, hit_numbers, tags))
    return out


# Who registered or decided, as colleagues know them: accounts by their display names, the batch
# triage by what it is.
_SYSTEM_ACTORS = {BATCH_ACTOR: "批量录入", "cli": "命令行"}


def people_names(session: Any, usernames: Sequence[str]) -> dict[str, str]:
    """``username -> display name`` for the accounts among ``usernames`` (others keep their name)."""
    from sqlalchemy import select

    from store.models import User

    wanted = set(usernames)
    names = {u: _SYSTEM_ACTORS[u] for u in wanted if u in _SYSTEM_ACTORS}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(wanted)))
    names.update({username: display or username for username, display in rows})
    return names


@dataclass(frozen=True)
class FactView:
    """One legal fact as the fact list shows it: its sentence with the span marked, where it stands."""

    number: int
    tag: str
    name: str
    p: float
    field: str
    start: int
    end: int
    before: str
    marked: str
    after: str


def fact_views(
    facts: Sequence[FactEvidence], stored: dict[str, str], shown: dict[str, str], masked: bool
) -> list[FactView]:
    """The facts with their sentences, in the officer's own characters and masked when the text is.

    Args:
        facts: the stored proposal's facts (offsets into the stored fields).
        stored: ``title``/``text`` as stored, where the offsets hold.
        shown: the same fields as this officer sees them; a field masking has made shorter or
            longer is left out, and its facts are quoted (masked) without a mark.
        masked: the officer reads personal data masked.
    """
    out: list[FactView] = []
    for number, f in enumerate(facts, 1):
        quote = (masking.mask_text(f.quote) or "") if masked else f.quote
        before, marked, after = "", quote, ""
        text, seen = stored.get(f.field, ""), shown.get(f.field)
        if seen is not None and len(seen) == len(text) and 0 <= f.start < f.end <= len(text):
            # The quote is the sentence around the span; normalisation keeps lengths, so where it
            # lies in the normalised field the officer's characters stand in the same places.
            s, e = f.start, f.end
            if f.quote:
                at = normalize(text).rfind(f.quote, 0, f.start + len(f.quote))
                if at != -1 and at + len(f.quote) >= f.end:
                    s, e = at, at + len(f.quote)
            before, marked, after = seen[s : f.start], seen[f.start : f.end], seen[f.end : e]
        out.append(FactView(number, f.tag, f.name, f.p, f.field, f.start, f.end, before, marked, after))
    return out


# The clocks that run from receipt whatever the route: shown even when no route is proposed.
_ROUTE_FREE_DEADLINES = frozenset({"notify_acceptance", "report_urgent"})


def _letter_page(
    request: Request,
    session: Any,
    user: Any,
    bundle: LetterBundle,
    catalogue: Catalogue,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
    case_input: CaseInput | None = None,
    earlier_notice: str | None = None,
    earlier_error: str | None = None,
) -> Response:
    letter: LetterPublic = views.letter_public(bundle, user, catalogue)
    state = views.letter_state(bundle)
    p = letter.proposal
    words: list[Any] = []
    text_segments = [Mark(letter.text)]
    title_segments = [Mark(letter.title)] if letter.title else []
    deadlines: list[Any] = []
    facts: list[FactView] = []
    routed = True
    if p is not None and bundle.proposal is not None:
        routed = p.routed
        stored = bundle.proposal.route_proposal()
        if routed:
            words = presenters.strongest_words(
                {k: tuple(v) for k, v in p.evidence.items()}, head="department", limit=8
            )
            if not words:
                words = presenters.strongest_words(
                    {k: tuple(v) for k, v in p.evidence.items()}, head="category"
                )
        word_texts = [w.text for w in words]
        # Offsets point into the stored text. Masking a phone number can shorten the text; then the
        # marks are left off rather than put on the wrong characters.
        if len(letter.text) == len(bundle.letter.text):
            text_segments = mark_field(letter.text, stored.rule_hits, "text", word_texts, stored.facts)
        if letter.title:
            title_segments = mark_field(letter.title, stored.rule_hits, "title", word_texts, stored.facts)
        facts = fact_views(
            stored.facts,
            stored={"title": bundle.letter.title, "text": bundle.letter.text},
            shown={"title": letter.title, "text": letter.text},
            masked=letter.particulars.masked,
        )
        today = china_today()
        deadlines = [
            (d, presenters.deadline_state(d, today))
            for d in p.deadlines
            if routed or d.code in _ROUTE_FREE_DEADLINES
        ]
    if form is None:
        if bundle.decision:
            form = dict(bundle.decision.field_values())
        elif bundle.proposal and routed:
            form = dict(bundle.proposal.field_values())
        else:
            form = {}  # no route proposed: the officer chooses every field
    case = None
    if bundle.letter.status != "merged":
        case = case_section(
            session,
            user,
            bundle.letter,
            catalogue=catalogue,
            settings=request.app.state.settings,
            people=lambda usernames: people_names(session, usernames),
            given=case_input,
        )
    return render(
        request,
        "letter.html",
        {
            "user": user,
            "letter": letter,
            "qr": presenters.qr_svg(letter.case_number),
            "text_segments": text_segments,
            "title_segments": title_segments,
            "words": words,
            "facts": facts,
            "routed": routed,
            "deadlines": deadlines,
            # Once the case has moved past its route (转送, 交办, a notice), the route is not changed
            # here: the decision form goes, and a stale one posted is refused by the service.
            "can_decide": access.can_decide(user, state) and (case is None or case.may_decide),
            "case": case,
            # A step that took the case out of the officer's hands (a handler's 退回) still says so.
            "case_notice": case_input.notice if case is None and case_input is not None else None,
            "form": form,
            "error": error,
            "departments": catalogue.departments,
            "domains": DOMAINS,
            "people": people_names(session, [letter.created_by, *(d.decided_by for d in letter.decisions)]),
            # The scanned pages beside the OCR text, so the officer can check what was read.
            "pages": bundle.letter.pages,
            # The petitioner's and the matter's earlier letters the reader may open (重复信访).
            "earlier": repeats.earlier_list(session, user, bundle.letter, with_encoder=True),
            "earlier_threshold": SAME_MATTER_THRESHOLD,
            "may_mark_earlier": access.can_decide(user, state) and bundle.letter.status != "merged",
            "earlier_notice": earlier_notice,
            "earlier_error": earlier_error,
        },
        status_code=status_code,
    )


@router.get("/letters/{case_number}")
def letter_page(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    draft: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    bundle = workflows.open_letter(session, user, case_number)
    # A step or document done on the previous request says so once, after its redirect.
    notice = request.session.pop("case_notice", None)
    given = CaseInput(notice=notice if isinstance(notice, str) else None, draft_kind=draft or None)
    earlier_notice = request.session.pop("earlier_notice", None)
    return _letter_page(
        request,
        session,
        user,
        bundle,
        catalogue,
        case_input=given,
        earlier_notice=earlier_notice if isinstance(earlier_notice, str) else None,
    )


@router.post("/letters/{case_number}/unrelated", dependencies=[CsrfChecked])
def mark_unrelated(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    earlier: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    clear: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """「标为无关」 (or 「取消无关标记」) on an earlier letter listed on the letter page."""

    def refused(message: str, status_code: int) -> Response:
        session.rollback()
        bundle = workflows.open_letter(session, user, case_number)
        return _letter_page(
            request, session, user, bundle, catalogue, status_code=status_code, earlier_error=message
        )

    if not earlier.strip():
        return refused("请指明在先来信的案件编号", 422)
    payload = UnrelatedCreate(
        earlier_case_number=earlier.strip(), reason=reason.strip() or None, clear=clear == "1"
    )
    try:
        result = repeats.set_unrelated(session, user, case_number, payload)
    except (InvalidInput, Conflict) as exc:
        return refused(exc.message, status_of(exc))
    if result.unrelated:
        notice = (
            f"已将 {result.earlier_case_number} 标为与本件无关。"
            if result.changed
            else (f"{result.earlier_case_number} 已标为与本件无关。")
        )
    else:
        notice = (
            f"已取消 {result.earlier_case_number} 的无关标记。"
            if result.changed
            else (f"{result.earlier_case_number} 没有无关标记。")
        )
    request.session["earlier_notice"] = notice
    return RedirectResponse(f"/letters/{result.case_number}#earlier", status_code=303)


def render_letter(
    request: Request,
    session: Any,
    user: Any,
    case_number: str,
    catalogue: Catalogue,
    given: CaseInput,
    status_code: int,
) -> Response:
    """The letter page again with the case section showing what a refused case form brought back."""
    bundle = workflows.open_letter(session, user, case_number)
    return _letter_page(request, session, user, bundle, catalogue, case_input=given, status_code=status_code)


@router.get("/letters/{case_number}/pages/{number}")
def letter_page_image(
    case_number: str,
    number: Annotated[int, Path(ge=1, le=10_000)],
    session: SessionDep,
    user: PageUser,
    settings: SettingsDep,
) -> Response:
    """One scanned page of a letter, for the thumbnails and their full-size view: the API's rule."""
    bundle = workflows.open_letter(session, user, case_number, purpose="page image")
    return page_image_response(session, settings, bundle, number)


def _decision_problems(exc: ValidationError) -> str:
    """What is wrong with the decision form, by field name: pydantic's own messages are English and
    quote the codes of the choices, which the officer picked from a list by name."""
    fields = dict.fromkeys(str(e["loc"][0]) for e in exc.errors() if e["loc"])
    choices = [FIELD_NAMES[f] for f in fields if f in FIELD_NAMES]
    texts = [{"reason": "理由", "comment": "备注"}[f] for f in fields if f in ("reason", "comment")]
    parts = []
    if choices:
        parts.append(f"{'、'.join(choices)}的取值无效，请从列表中重新选择")
    if texts:
        parts.append(f"{'、'.join(texts)}含有不能保存的控制字符或超过 5000 字，请修改")
    return "；".join(parts) + "。" if parts else "提交的确认内容有误，请刷新页面后重新确认。"


_CHOOSE_ALL = "本件没有分流建议：请逐项选择类别、领域、承办部门、处理途径和处理方式，并填写理由后按所选登记。"


def _unrouted_choice_missing(
    session: Any, user: Any, case_number: str, action: str, form: dict[str, str]
) -> LetterBundle | None:
    """The letter, when its proposal routes nothing and the officer has not chosen everything.

    Empty fields of a decision keep the proposed values, and a proposal that routes nothing holds
    none worth keeping. Only a letter the officer may decide on is looked at (nothing is audited
    here); any other goes on to the decision, which refuses it as usual.
    """
    try:
        bundle = letter_bundle(session, case_number)
    except NotFoundError:
        return None
    if bundle.proposal is None or bundle.proposal.route_proposal().routed:
        return None
    if not access.can_decide(user, views.letter_state(bundle)):
        return None
    if action != "accept" and all(form[f] for f in (*FIELD_NAMES, "reason")):
        return None
    return workflows.open_letter(session, user, case_number, purpose="decide")


@router.post("/letters/{case_number}/decide", dependencies=[CsrfChecked])
def decide_page(
    case_number: str,
    request: Request,
    session: SessionDep,
    user: PageUser,
    catalogue: CatalogueDep,
    proposal_id: Annotated[int, Form(ge=1)],
    letter_version: Annotated[int, Form(ge=1)],
    action: Annotated[str, Form(max_length=16)] = "correct",
    category: Annotated[str, Form(max_length=32)] = "",
    domain: Annotated[str, Form(max_length=32)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    channel: Annotated[str, Form(max_length=32)] = "",
    disposition: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    form = {
        "category": category,
        "domain": domain,
        "department": department,
        "channel": channel,
        "disposition": disposition,
        "reason": reason,
        "comment": comment,
    }
    raw: dict[str, Any] = {
        "proposal_id": proposal_id,
        "letter_version": letter_version,
        "reason": reason or None,
        "comment": comment or None,
    }
    if action != "accept":
        raw.update({k: v for k, v in form.items() if k not in ("reason", "comment") and v})
    unrouted = _unrouted_choice_missing(session, user, case_number, action, form)
    if unrouted is not None:
        return _letter_page(
            request, session, user, unrouted, catalogue, form=form, error=_CHOOSE_ALL, status_code=422
        )
    try:
        payload = DecisionCreate.model_validate(raw)
        workflows.decide_letter(session, user, case_number, payload, catalogue)
    except (ValidationError, InvalidValueError, ConflictError) as exc:
        session.rollback()
        shown: dict[str, Any] | None
        bundle = workflows.open_letter(session, user, case_number)
        if isinstance(exc, ConflictError):
            message, status = "本件已被他人确认或更新，请查看最新内容后重新确认。", 409
            shown = None  # what is in force now, not the stale choice
        elif isinstance(exc, ValidationError):
            message, status, shown = _decision_problems(exc), 422, form
        else:
            message, status, shown = str(exc), 422, form
        return _letter_page(
            request, session, user, bundle, catalogue, form=shown, error=message, status_code=status
        )
    return RedirectResponse(f"/letters/{case_number}#decisions", status_code=303)
