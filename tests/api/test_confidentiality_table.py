"""The confidentiality rule case by case and role by role: both its forms, then every endpoint.

``store.confidentiality`` writes the rule (and what a role's scope admits) once in Python and once
in SQL. Here every case the rule distinguishes is built in the database, with the proposals and
decisions it names:

1. both forms judge each case, and must agree with each other and with the table below;
2. each role's scope judged on each letter (``service.access.can_read``) must be the letters its scope
   lists in SQL (``store.queries_api.list_queue_for``);
3. every endpoint that lists, counts, exports or reports letters, batches or files must show each
   role exactly the letters the table allows, and a file's name (or a title taken from it) only to
   a role that may open every letter read from that file.

The table is the statute's reading (条例 第三十条第三款, 第四十六条(五)), written out here rather
than computed, so that a change of either form that the other does not follow fails. A department
handler's part of it: only a case the office has transferred (转送) to the handler's body, by its
newest route and not returned since; a route merely decided for the body is not the body's yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standin_router import StandInRouter
from web_factories import ACCUSATION_TEXT, ORDINARY_TEXT, PASSWORD, make_settings

from api.app import create_app
from casework.cases import case_of, take_step
from routing.codes import CATEGORY_NAMES, CHANNEL_NAMES
from routing.schemas import Letter as RoutedLetter
from routing.schemas import RouteProposal
from service import access
from store.confidentiality import confidential_clause
from store.db import make_engine, make_session_factory, session_scope
from store.letters import add_proposal, create_letter, decide
from store.models import Letter
from store.queries_api import letter_bundle, list_queue_for, scoped_select

both = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

IN, SU, AN, AD, HA, DI = (
    "intake_officer",
    "supervisor",
    "analyst",
    "administrator",
    "department_handler",
    "discipline_inspector",
)
ROLES = (IN, SU, AN, AD, HA, DI)
HANDLER_DEPARTMENT = "housing"  # tests/api/conftest.py gives the handler this department
SECOND_INTAKE = "intake.two"  # an intake officer who did not upload the batch
THRESHOLD_TEXT = "反映学校个别老师作风问题，上课经常迟到早退，请求教育局督促整改。"

# -- the cases ------------------------------------------------------------------------------------

_ROUTER = StandInRouter()


def routed(text: str) -> RouteProposal:
    """What the real ``propose`` makes of ``text`` with the stand-in's scores."""
    return _ROUTER.propose(RoutedLetter(title="", text=text))


def variant(
    p: RouteProposal,
    *,
    category: str | None = None,
    channel: str | None = None,
    confidential: bool | None = None,
) -> RouteProposal:
    """``p`` with fields set as an older model or rulebook could have stored them."""
    update: dict[str, Any] = {}
    if category is not None:
        update["category"] = p.category.model_copy(
            update={"label": category, "name": CATEGORY_NAMES[category]}
        )
    if channel is not None:
        update["channel"], update["channel_name"] = channel, CHANNEL_NAMES[channel]
    if confidential is not None:
        update["confidential"] = confidential
    return p.model_copy(update=update)


ORDINARY = routed(ORDINARY_TEXT)
THRESHOLD_ONLY = routed(THRESHOLD_TEXT)
ACCUSATION = routed(ACCUSATION_TEXT)

# A decision: category, channel, department (domain and disposition do not bear on the rule).
ORDINARY_HOUSING = ("appeal", "ordinary", "housing")
ORDINARY_EDUCATION = ("appeal", "ordinary", "education")
ACCUSATION_DECIDED = ("accusation", "discipline", "discipline_inspection")
ACCUSATION_KEPT_ORDINARY = ("accusation", "ordinary", "housing")
DISCIPLINE_CHANNEL = ("appeal", "discipline", "discipline_inspection")
# Steps of the case after its route: the office transfers it to the body its decision names; the
# body signs for it and returns it (异议退回), after which the office routes it again.
TRANSFER = "transfer"
RETURN = "return"

Step = RouteProposal | tuple[str, str, str] | str


@dataclass(frozen=True)
class Case:
    key: str
    steps: tuple[Step, ...]  # a proposal, a decision, or a step of the case
    confidential: bool  # the table: what the statute makes of it

    @property
    def sent_to(self) -> str | None:
        """The body the case is transferred to now: by its newest decision, until returned."""
        decided: str | None = None
        sent: str | None = None
        for step in self.steps:
            if isinstance(step, tuple):
                decided, sent = step[2], None
            elif step == TRANSFER:
                sent = decided
            elif step == RETURN:
                sent = None
        return sent


CASES = (
    Case("no proposal, no decision", (), True),
    Case("ordinary proposal", (ORDINARY,), False),
    Case("threshold only: the proposal's flag alone", (THRESHOLD_ONLY,), True),
    Case("proposal category accusation alone", (variant(ORDINARY, category="accusation"),), True),
    Case("proposal channel discipline alone", (variant(ORDINARY, channel="discipline"),), True),
    Case("accusation proposal", (ACCUSATION,), True),
    Case("decided ordinary after a threshold-only proposal", (THRESHOLD_ONLY, ORDINARY_HOUSING), False),
    Case("decided ordinary after an accusation proposal", (ACCUSATION, ORDINARY_HOUSING), False),
    Case("decided an accusation after an ordinary proposal", (ORDINARY, ACCUSATION_KEPT_ORDINARY), True),
    Case("decided the discipline channel after an ordinary proposal", (ORDINARY, DISCIPLINE_CHANNEL), True),
    Case("decided ordinary for another department", (ORDINARY, ORDINARY_EDUCATION), False),
    Case(
        "decided an accusation, then corrected to ordinary",
        (ACCUSATION, ACCUSATION_DECIDED, ORDINARY_HOUSING),
        False,
    ),
    Case(
        "decided ordinary, then corrected to an accusation",
        (ORDINARY, ORDINARY_HOUSING, ACCUSATION_DECIDED),
        True,
    ),
    Case(
        "a newer confidential proposal after an ordinary decision",
        (ORDINARY, ORDINARY_HOUSING, ACCUSATION),
        False,
    ),
    Case("a newer ordinary proposal after a confidential one", (THRESHOLD_ONLY, ORDINARY), False),
    Case("a newer confidential proposal after an ordinary one", (ORDINARY, THRESHOLD_ONLY), True),
    Case("transferred to the handler's body", (ORDINARY, ORDINARY_HOUSING, TRANSFER), False),
    Case("transferred to another body", (ORDINARY, ORDINARY_EDUCATION, TRANSFER), False),
    Case("returned by the handler's body", (ORDINARY, ORDINARY_HOUSING, TRANSFER, RETURN), False),
    Case(
        "returned by the handler's body, routed to it again, not transferred yet",
        (ORDINARY, ORDINARY_HOUSING, TRANSFER, RETURN, ORDINARY_HOUSING),
        False,
    ),
    Case(
        "returned by the handler's body, re-routed and transferred elsewhere",
        (ORDINARY, ORDINARY_HOUSING, TRANSFER, RETURN, ORDINARY_EDUCATION, TRANSFER),
        False,
    ),
    Case(
        "returned by another body, re-routed and transferred to the handler's",
        (ORDINARY, ORDINARY_EDUCATION, TRANSFER, RETURN, ORDINARY_HOUSING, TRANSFER),
        False,
    ),
    Case(
        "an accusation transferred to the handler's body",
        (ORDINARY, ACCUSATION_KEPT_ORDINARY, TRANSFER),
        True,
    ),
)


def may_open(role: str, case: Case) -> bool:
    """The table, per role (service/access.py's docstring says who reads what); "nobody" is a
    department handler without a department, whom nothing is routed to."""
    if role == SU:
        return True
    if role == DI:
        return case.confidential
    if role in (IN, AN):
        return not case.confidential
    if role == HA:
        return not case.confidential and case.sent_to == HANDLER_DEPARTMENT
    return False  # the administrator reads no letter, nor a handler of no department


def test_the_cases_are_what_they_say() -> None:
    # The threshold-only proposal is confidential by the flag alone, as the real propose() sets it.
    assert THRESHOLD_ONLY.confidential and THRESHOLD_ONLY.category.label == "appeal"
    assert (
        THRESHOLD_ONLY.channel != "discipline" and THRESHOLD_ONLY.department.label != "discipline_inspection"
    )
    assert (
        not ORDINARY.confidential and ORDINARY.category.label == "appeal" and ORDINARY.channel != "discipline"
    )
    # A confidential route's department is the discipline body, as in production.
    assert ACCUSATION.channel == "discipline" and ACCUSATION.department.label == "discipline_inspection"


# -- building them ----------------------------------------------------------------------------------


@dataclass
class Built:
    case: Case
    letter_id: int
    case_number: str
    file_id: int | None = None


@dataclass
class World:
    letters: list[Built]
    batch_id: int | None = None
    files: dict[str, int] = field(default_factory=dict)  # file name -> id
    mixed: dict[str, str] = field(default_factory=dict)  # "ordinary"/"accusation" -> case number


def _apply(session: Any, letter: Letter, step: Step) -> None:
    if isinstance(step, RouteProposal):
        add_proposal(session, letter.id, step)
        return
    if step == TRANSFER:  # with a 转送函 sent on paper, which any 文号 stands for
        take_step(
            session, "supervisor", letter.id, "transfer", {"document_no": f"X信转〔2026〕{letter.id}号"}
        )
        return
    if step == RETURN:  # signed for and returned by a handler of the body it went to
        handler = _handler_of(session, case_of(session, letter.id).handling_body)
        take_step(session, handler, letter.id, "receive", {})
        take_step(session, handler, letter.id, "object", {"reason": "不属于本单位职责范围"})
        return
    assert isinstance(step, tuple)
    category, channel, department = step
    session.refresh(letter)
    decide(
        session,
        letter.id,
        expected_version=letter.version,
        decided_by="supervisor",
        category=category,
        domain="城乡建设",
        department=department,
        channel=channel,
        disposition="accept",
        reason="按本案情况确认",
    )


def _handler_of(session: Any, body: str | None) -> str:
    """A handler of ``body``: the test accounts' own for housing, else one made for it."""
    from store.users import create_user, username_taken

    assert body is not None, "only a transferred case is returned"
    if body == HANDLER_DEPARTMENT:
        return "department.handler"
    username = f"handler.{body}"
    if not username_taken(session, username):
        create_user(
            session, username=username, password=PASSWORD, role=HA, display_name="另一单位", department=body
        )
    return username


def build_case(session: Any, case: Case, **letter_fields: Any) -> Built:
    letter = create_letter(
        session,
        title=letter_fields.pop("title", ""),
        text=ORDINARY_TEXT,
        created_by="supervisor",
        **letter_fields,
    )
    for step in case.steps:
        _apply(session, letter, step)
    session.flush()
    return Built(case, letter.id, letter.case_number, letter_fields.get("source_file_id"))


@dataclass(frozen=True)
class Reader:
    username: str
    role: str
    department: str | None = None


def reader(role: str) -> Reader:
    return Reader(role.replace("_", "."), role, HANDLER_DEPARTMENT if role == HA else None)


# -- 1 and 2: both forms --------------------------------------------------------------------------


@both
def test_both_forms_agree_on_every_case_and_role(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            built = [build_case(session, case) for case in CASES]
            ids = [b.letter_id for b in built]
            in_sql = set(
                session.scalars(scoped_select([Letter.id]).where(Letter.id.in_(ids), confidential_clause()))
            )
            for b in built:
                state = access.letter_state(letter_bundle(session, b.case_number))
                assert state.confidential == b.case.confidential, f"Python form: {b.case.key}"
                assert (b.letter_id in in_sql) == b.case.confidential, f"SQL form: {b.case.key}"
            for role, user in [(role, reader(role)) for role in ROLES] + [("nobody", Reader("h2", HA))]:
                if role == AD:
                    with pytest.raises(PermissionError):
                        access.queue_scope(user)
                    continue
                listed = {
                    i.letter_id
                    for i in list_queue_for(session, **access.queue_scope(user), status=None, limit=500).items  # type: ignore[arg-type]
                }
                for b in built:
                    state = access.letter_state(letter_bundle(session, b.case_number))
                    want = may_open(role, b.case)
                    assert access.can_read(user, state) == want, f"Python: {role} on {b.case.key}"
                    assert (b.letter_id in listed) == want, f"SQL: {role} on {b.case.key}"
    finally:
        engine.dispose()


# -- 3: every endpoint --------------------------------------------------------------------------

# A file whose name says what its letters say: only a reader of all its letters may see it.
MIXED_FILE = "举报王副局长受贿_赵六.pdf"
PENDING_FILE = "待处理_张三来信.txt"
FAILED_FILE = "坏扫描件_李四.pdf"
REFUSED_FILE = "拒收_王五来信.txt"


def case_file(i: int) -> str:
    return f"举报某副局长_第{i:02d}件.txt"


def _file(session: Any, batch_id: int, name: str) -> int:
    from store.files import claim_file, record_source_file

    row, _ = record_source_file(
        session,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        original_name=name,
        media_type="text/plain",
        size_bytes=100,
        stored_path=f"files/{name}",
        batch_id=batch_id,
    )
    if name != PENDING_FILE:
        claim_file(session, row.id, worker="table-test:0:1")
    return int(row.id)


def build_world(session: Any) -> World:
    """Every case as a letter read from a file of one batch an intake officer uploaded, plus a file
    holding an ordinary letter and an accusation, one waiting, one unreadable and one refused.

    The letters are titled with their file's name, as batch letters were registered before a
    letter's title stopped being its file's name: a title taken from a name is withheld with it.
    """
    from store.audit import append_event
    from store.files import create_batch, mark_file_done, mark_file_failed
    from store.users import create_user

    create_user(session, username=SECOND_INTAKE, password=PASSWORD, role=IN, display_name="另一位接待人员")
    batch = create_batch(session, created_by="intake.officer", received_on=dt.date(2026, 11, 2))
    world = World(letters=[], batch_id=batch.id)
    for i, case in enumerate(CASES, 1):
        file_id = _file(session, batch.id, case_file(i))
        world.files[case_file(i)] = file_id
        world.letters.append(
            build_case(
                session, case, title=case_file(i), source="batch", source_file_id=file_id, source_part=0
            )
        )
        mark_file_done(session, file_id, pages=1)
    file_id = world.files[MIXED_FILE] = _file(session, batch.id, MIXED_FILE)
    for part, (key, case) in enumerate((("ordinary", CASES[6]), ("accusation", CASES[5]))):
        built = build_case(
            session,
            case,
            title=f"{MIXED_FILE}（第{part + 1}封）",
            source="batch",
            source_file_id=file_id,
            source_part=part,
        )
        world.letters.append(built)
        world.mixed[key] = built.case_number
    mark_file_done(session, file_id, pages=2)
    world.files[PENDING_FILE] = _file(session, batch.id, PENDING_FILE)
    failed = world.files[FAILED_FILE] = _file(session, batch.id, FAILED_FILE)
    mark_file_failed(session, failed, f"{FAILED_FILE}: no letter text: every page is blank; check the scan")
    append_event(
        session,
        actor="intake.officer",
        action="file_failed",
        object=f"batch:{batch.id}",
        details={
            "file": REFUSED_FILE,
            "reason": f"file name {REFUSED_FILE!r} is not allowed",
            "refused": True,
        },
    )
    return world


def sees_name(who: str, role: str, world: World, name: str) -> bool:
    """The table for file names: every letter of the file open to the role; a file without
    letters only to its uploader and the roles that read confidential letters."""
    letters = [b for b in world.letters if b.file_id == world.files.get(name)]
    if letters:
        return all(may_open(role, b.case) for b in letters)
    return who == "intake.officer" or role in (SU, DI)


class Session_:
    """One signed-in reader: a bearer token for the API and a browser session for the pages."""

    def __init__(self, app: Any, username: str) -> None:
        self.api = TestClient(app, raise_server_exceptions=False)
        r = self.api.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        self.page = TestClient(app, raise_server_exceptions=False)
        token = self.page.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        r = self.page.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

    def get(self, path: str) -> Any:
        return self.api.get(path, headers=self.headers)

    def view(self, path: str) -> Any:
        return self.page.get(path, follow_redirects=False)


def _text(response: Any) -> str:
    """Everything a response says, JSON unescaped, so a name cannot hide in an escape."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return html.unescape(response.content.decode("utf-8-sig", errors="replace"))


def _cases_in(text: str, world: World) -> set[str]:
    return {b.case_number for b in world.letters if b.case_number in text}


WHO = ((IN, "intake_officer"), (SECOND_INTAKE, IN), (SU, SU), (AN, AN), (AD, AD), (HA, HA), (DI, DI))


@both
def test_every_endpoint_shows_each_role_what_the_rule_allows(
    database_url: str, tmp_path: Path, standin_router: StandInRouter, users: dict[str, str]
) -> None:
    settings = make_settings(database_url, storage_dir=tmp_path / "files", login_attempts=1000)
    app = create_app(settings, router=standin_router)
    with TestClient(app):
        with session_scope(app.state.session_factory) as session:
            world = build_world(session)
        batch = world.batch_id
        assert batch is not None
        for who, role in WHO:
            username = who.replace("_", ".") if who in ROLES else who
            s = Session_(app, username)
            allowed = {b.case_number for b in world.letters if may_open(role, b.case)}
            everyone = {b.case_number for b in world.letters}
            secret_count = sum(1 for b in world.letters if may_open(role, b.case) and b.case.confidential)
            first = {b.case_number: b.letter_id for b in world.letters}
            before = {c: {o for o in allowed if first[o] < first[c]} for c in everyone}

            # One letter at a time: the letter, its decisions, its case, its page.
            for b in world.letters:
                want = 403 if role == AD else 200 if b.case_number in allowed else 404
                for path in (
                    f"/api/v1/letters/{b.case_number}",
                    f"/api/v1/letters/{b.case_number}/decisions",
                    f"/api/v1/letters/{b.case_number}/case",
                ):
                    assert s.get(path).status_code == want, f"{who} {path} ({b.case.key})"
                assert s.view(f"/letters/{b.case_number}").status_code == want, f"{who} page {b.case.key}"

            # Lists and counts: the queue (API and page) and the export of letters.
            queue = s.get("/api/v1/letters?status=all&limit=500")
            page = s.view("/?status=all")
            export = s.get("/api/v1/exports/letters?status=all")
            if role == AD:
                assert queue.status_code == 403 and page.status_code == 303 and export.status_code == 403
            else:
                assert queue.status_code == 200 and page.status_code == 200
                body = queue.json()
                assert {i["case_number"] for i in body["data"]} == allowed, who
                assert body["count"] == len(allowed) and body["counts"]["confidential"] == secret_count, who
                assert _cases_in(_text(page), world) == allowed, who
                if role in access.EXPORT:
                    assert export.status_code == 200
                    assert {r["case_number"] for r in export.json()["data"]} == allowed, who
                else:
                    assert export.status_code == 403, who

            # The batch: its progress (API, page and what the page polls), its export, the list.
            progress = s.get(f"/api/v1/batches/{batch}")
            shown = [s.view(f"/batches/{batch}"), s.view(f"/batches/{batch}/progress"), progress]
            listing = [s.get("/api/v1/batches"), s.view("/batches")]
            if role not in access.READ_BATCHES:
                assert [r.status_code for r in shown + listing] == [403] * 5, who
            else:
                assert [r.status_code for r in shown + listing] == [200] * 5, who
                body = progress.json()
                linked = {link["case_number"] for f in body["file_states"] for link in f["letters"]}
                assert linked == allowed, who
                for link in (link for f in body["file_states"] for link in f["letters"]):
                    assert link["earlier"] == len(before[link["case_number"]]), f"{who} {link}"
                assert body["hidden_letters"] == len(everyone - allowed), who
                for name in world.files:
                    visible = sees_name(username, role, world, name)
                    for r in shown:
                        assert (name in _text(r)) == visible, f"{who} sees {name} on {r.url}"
                    state = next(f for f in body["file_states"] if f["file_id"] == world.files[name])
                    assert state["name_withheld"] == (not visible), f"{who}: {name}"
                    if not visible:
                        assert state["name"].startswith(("保密文件", "文件 ")) and state["error"] is None
                refused_visible = sees_name(username, role, world, REFUSED_FILE)
                for r in shown:
                    assert (REFUSED_FILE in _text(r)) == refused_visible, f"{who} sees the refused file"
                for r in shown:  # no letter the role may not open is named, by case number either
                    assert _cases_in(_text(r), world) == allowed, who
                for r in listing:
                    assert not any(name in _text(r) for name in [*world.files, REFUSED_FILE]), who
            for fmt in ("json", "csv"):
                exported = s.get(f"/api/v1/batches/{batch}/export?format={fmt}")
                if role not in access.EXPORT:
                    assert exported.status_code == 403, who
                    continue
                assert exported.status_code == 200, who
                text = _text(exported)
                assert _cases_in(text, world) == allowed, f"{who} {fmt}"
                for name in world.files:
                    assert (name in text) == (
                        sees_name(username, role, world, name) and name in _files_of(world, allowed)
                    ), f"{who} {fmt}: {name}"

            # A title taken from a file's name goes where the name goes.
            ordinary = world.mixed["ordinary"]
            if ordinary in allowed:
                visible = sees_name(username, role, world, MIXED_FILE)
                title = s.get(f"/api/v1/letters/{ordinary}").json()["title"]
                assert (MIXED_FILE in title) == visible, who
                listed = next(i for i in queue.json()["data"] if i["case_number"] == ordinary)
                assert (MIXED_FILE in listed["title"]) == visible, who
                for r in (page, s.view(f"/letters/{ordinary}")):
                    assert (MIXED_FILE in _text(r)) == visible, who
                if not visible:
                    assert title == f"保密文件 {world.files[MIXED_FILE]} 中的来信"

            # The case's life lists letters too: the 督办 view (API and page) and open escalations.
            # Whatever a role may see there, no letter it may not open is named, by case number either.
            for path, page_view in (
                ("/api/v1/supervision?within=366", False),
                ("/supervision?within=366", True),
                ("/api/v1/escalations", False),
            ):
                r = s.view(path) if page_view else s.get(path)
                if r.status_code == 200:
                    assert _cases_in(_text(r), world) <= allowed, f"{who} {path}"
                else:
                    assert r.status_code in (303, 403), f"{who} {path}: {r.status_code}"
                if role == SU:
                    assert r.status_code == 200, f"{who} {path}"
                    if "supervision" in path:  # not vacuous: the world's letters are due somewhere
                        assert _cases_in(_text(r), world) & allowed, f"{who} {path}"
                if role in (AD, AN):
                    assert r.status_code != 200, f"{who} {path}"

            # Hot issues (API and page): every letter counted, only those the role may open listed,
            # a withheld file name never shown, not even in a keyword.
            hot = [s.get("/api/v1/hot-issues?min_size=1&limit=500"), s.view("/hot-issues?min_size=1")]
            if role in (SU, AN):
                assert [r.status_code for r in hot] == [200, 200], who
                issues = hot[0].json()["data"]
                assert sum(i["size"] for i in issues) == len(everyone), who
                assert {x["case_number"] for i in issues for x in i["letters"]} == allowed, who
                assert {i["central_case_number"] for i in issues} - {None} <= allowed, who
                assert sum(i["withheld"] for i in issues) == len(everyone - allowed), who
                for r in hot:
                    assert _cases_in(_text(r), world) == allowed, f"{who} {r.url}"
                    for name in world.files:
                        if not sees_name(username, role, world, name):
                            assert name not in _text(r), f"{who} sees {name} on {r.url}"
            else:
                assert [r.status_code for r in hot] == [403, 403], who

            # The audit log names files and letters of every kind: supervisors only.
            audit = [s.get("/api/v1/audit?limit=1000"), s.view("/audit")]
            if role == SU:
                assert [r.status_code for r in audit] == [200, 200]
                assert REFUSED_FILE in _text(audit[0])
            else:
                assert [r.status_code for r in audit] == [403, 403], who

            # Statistics (API, page and both report files, after the audit log: their downloads are
            # audited): every letter counted, confidential ones
            # included, and no letter the role may not open named anywhere.
            figures = [s.get("/api/v1/statistics"), s.view("/statistics")]
            reports = [s.get(f"/api/v1/statistics/report?format={f}") for f in ("docx", "xlsx")]
            reports += [s.view(f"/statistics/report.{f}") for f in ("docx", "xlsx")]
            if role in (SU, AN):
                assert [r.status_code for r in figures + reports] == [200] * 6, who
                body = figures[0].json()
                assert body["total"] == len(everyone), who
                assert body["confidential"] == sum(1 for b in world.letters if b.case.confidential), who
                for text in [_text(r) for r in figures] + [_report_text(r) for r in reports]:
                    assert _cases_in(text, world) <= allowed, who
                    assert str(len(everyone)) in text, who
            else:
                assert [r.status_code for r in figures + reports] == [403] * 6, who

            # Earlier letters (every letter of the world reads the same, so each has all those
            # registered before it): the API and the letter's page list, and the batch counts, only
            # letters the role may open; a title taken from a file's name goes where the name goes.
            # (After the audit log's check: opening confidential letters writes to it. Who may not
            # open a letter gets 404 here as on its page: the permission matrix checks that.)
            for b in (b for b in world.letters if b.case_number in allowed):
                r = s.get(f"/api/v1/letters/{b.case_number}/earlier?limit=200")
                assert r.status_code == 200, f"{who} earlier of {b.case.key}"
                data = r.json()["data"]
                assert {e["case_number"] for e in data} == before[b.case_number], f"{who} {b.case.key}"
                assert r.json()["count"] == len(before[b.case_number]), who
                for e in data:
                    assert MIXED_FILE not in e["title"] or sees_name(username, role, world, MIXED_FILE), who
                shown_page = _text(s.view(f"/letters/{b.case_number}"))
                assert _cases_in(shown_page, world) <= allowed, f"{who} page of {b.case.key}"


def _report_text(response: Any) -> str:
    """Every text of a statistics report file: the DOCX's paragraphs and tables, or the XLSX's cells."""
    import io

    data = response.content
    if "spreadsheet" in response.headers.get("content-type", ""):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(data))
        return "\n".join(str(c) for ws in book for row in ws.iter_rows(values_only=True) for c in row if c)
    from docx import Document

    doc = Document(io.BytesIO(data))
    cells = [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def _files_of(world: World, cases: set[str]) -> set[str]:
    """Names of the files holding any of these letters (an export lists only letters' files)."""
    ids = {b.file_id for b in world.letters if b.case_number in cases}
    return {name for name, file_id in world.files.items() if file_id in ids}


SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default"
RELABELLED = "u99901"  # a shared letter whose label an officer's decision replaced
ANNOTATED = "u99902"  # a shared letter labelled by its annotation only


def _registry_with_decided_letters(root: Path, world: World) -> Path:
    """A registry holding one model evaluated on letters officers decided: the world's letters
    (``db:<case number>``) and a relabelled shared letter, as training reads them, in the rule
    audit, the rule check and the warnings, the way ``xinfang train`` and ``evaluate`` write them."""
    from training.report import write_report

    summary = json.loads((SHIPPED / "evaluation.json").read_text(encoding="utf-8"))
    meta = json.loads((SHIPPED / "meta.json").read_text(encoding="utf-8"))
    decided = [f"db:{b.case_number}" for b in world.letters]
    audit = summary["rule_audit"]
    audit["contradicted"][0]["by_officers"] = [
        {"letter_id": i, "gold": "discipline", "matched": "举报"} for i in [*decided, RELABELLED]
    ]
    audit["contradicted"][0]["by_annotation"].append(
        {"letter_id": ANNOTATED, "gold": "ordinary", "matched": ""}
    )
    template = audit["disagreements"][0]
    audit["disagreements"] = [
        {**template, "letter_id": i, "source": "decision" if i != ANNOTATED else "annotation"}
        for i in [*decided, RELABELLED, ANNOTATED]
    ]
    problems = (
        "rulebook fails the check against the annotated letters:\n- rule R-JJ-06 sets discipline but agrees "
        f"with the annotation on only 1/9 letters; contradicting letters: {decided[0]}(discipline), "
        f"{RELABELLED}(discipline), {ANNOTATED}(ordinary)"
    )
    summary["rule_check"] = {**summary["rule_check"], "passed": False, "problems": problems}
    decisions = {
        "decisions": len(decided) + 1,
        "replaced_shared_labels": 1,
        "replaced_ids": [RELABELLED],
        "added_letters": len(decided),
        "corrections": 0,
        "decided_before": "2026-12-01T00:00:00+00:00",
    }
    warnings = [
        f"2 held-out letters have the same text as a training letter (test=train): {decided[1]}=u00001",
        f"rule check (rules.check=warn): {problems}",
    ]
    summary.update(decisions=decisions, warnings=warnings, version="decided")
    meta.update(decisions=decisions, warnings=warnings, version="decided")
    folder = root / "decided"
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    (folder / "evaluation.json").write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    write_report(summary, folder / "report.html")
    return root


@both
def test_the_models_report_names_no_letter_an_officer_decided(
    database_url: str, tmp_path: Path, standin_router: StandInRouter, users: dict[str, str]
) -> None:
    settings = make_settings(database_url, storage_dir=tmp_path / "files", models_dir=tmp_path / "models")
    app = create_app(settings, router=standin_router)
    with TestClient(app):
        with session_scope(app.state.session_factory) as session:
            world = build_world(session)
        _registry_with_decided_letters(tmp_path / "models", world)
        case_numbers = re.compile("|".join(re.escape(b.case_number) for b in world.letters))
        for role in ROLES:
            s = Session_(app, role.replace("_", "."))
            responses = [
                s.view("/models/decided/report"),
                s.view("/models/decided"),
                s.get("/api/v1/models/decided"),
            ]
            if role not in access.READ_MODELS:
                assert [r.status_code for r in responses] == [403] * 3, role
                continue
            assert [r.status_code for r in responses] == [200] * 3, role
            for r in responses:
                text = _text(r)
                # Officers' letters: neither their case numbers nor the relabelled shared letter.
                assert not case_numbers.search(text) and "db:" not in text, (role, r.url)
                assert RELABELLED not in text, (role, r.url)
            report = _text(responses[0])
            # ... but counted, and the annotated letter (training data) still named.
            assert ANNOTATED in report
            assert f"{len(world.letters) + 1} of them labelled by officers' decisions are counted" in report
            assert f"<td>{len(world.letters) + 1}</td>" in report  # contradicted by officers' decisions
            detail = responses[2].json()
            assert "replaced_ids" not in detail["decisions"]
            assert detail["decisions"]["decisions"] == len(world.letters) + 1


@both
def test_an_upload_of_a_known_file_does_not_name_it_to_who_may_not_see_its_name(
    database_url: str, tmp_path: Path, standin_router: StandInRouter, users: dict[str, str]
) -> None:
    """Uploading bytes uploaded before answers with the file as it is already kept: under the rule."""
    from store.files import claim_file, create_batch, mark_file_done, record_source_file

    content = ACCUSATION_TEXT.encode()
    settings = make_settings(database_url, storage_dir=tmp_path / "files", login_attempts=1000)
    app = create_app(settings, router=standin_router)
    with TestClient(app):
        with session_scope(app.state.session_factory) as session:
            from store.users import create_user

            create_user(
                session, username=SECOND_INTAKE, password=PASSWORD, role=IN, display_name="另一位接待人员"
            )
            batch = create_batch(session, created_by="supervisor")
            row, _ = record_source_file(
                session,
                sha256=hashlib.sha256(content).hexdigest(),
                original_name=MIXED_FILE,
                media_type="text/plain",
                size_bytes=len(content),
                stored_path="kept/elsewhere.txt",
                batch_id=batch.id,
            )
            claim_file(session, row.id, worker="table-test:0:1")
            build_case(session, CASES[5], source="batch", source_file_id=row.id, source_part=0)
            mark_file_done(session, row.id, pages=1)
            file_id = int(row.id)
        for username, visible in ((SECOND_INTAKE, False), ("supervisor", True)):
            s = Session_(app, username)
            r = s.api.post(
                "/api/v1/batches",
                files=[("files", ("我的扫描.txt", content, "text/plain"))],
                headers=s.headers,
            )
            assert r.status_code == 200, r.text
            known = r.json()["known"]
            assert [k["file_id"] for k in known] == [file_id]
            assert (MIXED_FILE in r.text) == visible and known[0]["name_withheld"] == (not visible)
            if not visible:
                assert known[0]["name"] == f"保密文件 {file_id}"
