"""The officers' pages: sign-in, CSRF, the letter page's highlights, masking, and the audit trail."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, ARBITRATION_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app


def csrf_of(client: TestClient, path: str = "/login") -> str:
    return str(re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1))  # type: ignore[union-attr]


def sign_in(client: TestClient, role: str) -> None:
    r = client.post(
        "/login",
        data={"username": role.replace("_", "."), "password": PASSWORD, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def register_page(client: TestClient, **fields: Any) -> str:
    data = {k: v for k, v in letter_payload(**fields).items()}
    data["csrf_token"] = csrf_of(client, "/letters/new")
    r = client.post("/letters/new", data=data, follow_redirects=False)
    assert r.status_code in (201, 303), r.text
    if r.status_code == 303:
        return str(r.headers["location"].rsplit("/", 1)[1])
    return str(re.search(r'id="case-number">([^<]+)<', r.text).group(1))  # type: ignore[union-attr]


def audit(client: TestClient, token_for: Any, action: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/audit?action={action}", headers=token_for("supervisor"))
    return list(r.json()["data"])


def test_login_page_and_wrong_password(client: TestClient, token_for: Any) -> None:
    r = client.post(
        "/login",
        data={"username": "intake.officer", "password": "not the password 1", "csrf_token": csrf_of(client)},
    )
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    sign_in(client, "intake_officer")
    assert "待办队列" in client.get("/").text
    assert [e["details"].get("why") for e in audit(client, token_for, "login_failed")] == ["wrong_password"]
    assert "intake.officer" in [e["actor"] for e in audit(client, token_for, "login")]


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"username": "intake.officer", "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text


def test_login_never_redirects_off_site(client: TestClient) -> None:
    r = client.post(
        "/login",
        data={
            "username": "intake.officer",
            "password": PASSWORD,
            "csrf_token": csrf_of(client),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_register_without_csrf_stores_nothing(client: TestClient, token_for: Any) -> None:
    sign_in(client, "intake_officer")
    r = client.post("/letters/new", data=letter_payload(), follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/api/v1/letters?status=all", headers=token_for("supervisor")).json()["count"] == 0


def test_login_rate_limit_per_address(tmp_path: Any, sqlite_template: Any, standin_router: Any) -> None:
    import shutil

    path = tmp_path / "rl.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app(
        make_settings(f"sqlite:///{path}", login_attempts=3, login_window=600), router=standin_router
    )
    with TestClient(app) as c:
        codes = [
            c.post(
                "/api/v1/auth/token", data={"username": f"u{i}.x", "password": "wrong-pass 123"}
            ).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        r = c.post("/api/v1/auth/token", data={"username": "intake.officer", "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_account_locks_after_repeated_failures(client: TestClient) -> None:
    for _ in range(5):
        client.post("/api/v1/auth/token", data={"username": "analyst", "password": "wrong-pass 123"})
    r = client.post("/api/v1/auth/token", data={"username": "analyst", "password": PASSWORD})
    assert r.status_code == 401  # locked: the right password no longer helps for a while


def test_letter_page_shows_highlighted_reasons_deadlines_and_qr(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client, text=ARBITRATION_TEXT, title="欠薪")
    html = client.get(f"/letters/{case}").text
    assert '<mark class="rule" data-rules="R-ZC-01">申请劳动仲裁<sup>[1]</sup></mark>' in html
    assert "第三十一条" in html  # the article the rule rests on, quoted
    assert "2026-11-17" in html  # the 15-day notice deadline as a date
    assert "<svg" in html and case in html
    assert 'class="word">工资' in html or '<mark class="word">工资</mark>' in html  # a strong model word
    assert "人力资源和社会保障局" in html  # the top department


def test_decide_on_the_page_needs_a_reason_to_correct(client: TestClient, token_for: Any) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client)
    letter = client.get(f"/api/v1/letters/{case}", headers=token_for("intake_officer")).json()
    form = {
        "csrf_token": csrf_of(client, f"/letters/{case}"),
        "proposal_id": letter["proposal"]["id"],
        "letter_version": letter["version"],
        "action": "correct",
        "category": "appeal",
        "domain": "城乡建设",
        "department": "urban_management",
        "channel": "ordinary",
        "disposition": "accept",
    }
    r = client.post(f"/letters/{case}/decide", data=form, follow_redirects=False)
    assert r.status_code == 422 and "必须填写理由" in r.text
    r = client.post(
        f"/letters/{case}/decide", data={**form, "reason": "违建问题归城管"}, follow_redirects=False
    )
    assert r.status_code == 303
    decisions = client.get(f"/api/v1/letters/{case}/decisions", headers=token_for("intake_officer")).json()
    assert decisions["count"] == 1 and decisions["data"][0]["department"] == "urban_management"
    assert decisions["data"][0]["reason"] == "违建问题归城管"
    assert [e["object"] for e in audit(client, token_for, "decide")] == [f"letter:{case}"]


def test_two_officers_one_version_one_wins_on_the_page(client: TestClient, app: Any, token_for: Any) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client)
    other = TestClient(app)
    sign_in(other, "supervisor")
    letter = client.get(f"/api/v1/letters/{case}", headers=token_for("intake_officer")).json()
    base = {"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"], "action": "accept"}
    a = client.post(
        f"/letters/{case}/decide",
        data={**base, "csrf_token": csrf_of(client, f"/letters/{case}")},
        follow_redirects=False,
    )
    b = other.post(
        f"/letters/{case}/decide",
        data={**base, "csrf_token": csrf_of(other, f"/letters/{case}")},
        follow_redirects=False,
    )
    assert (a.status_code, b.status_code) == (303, 409)
    assert "已被他人确认" in b.text


@pytest.mark.parametrize(("role", "masked"), [("intake_officer", False), ("analyst", True)])
def test_particulars_masked_for_roles_that_do_not_need_them(
    client: TestClient, role: str, masked: bool
) -> None:
    sign_in(client, "supervisor")
    case = register_page(client, text="小区物业乱收费，我的电话13812345678，请回电。")
    client.post("/logout", data={"csrf_token": csrf_of(client, "/")})
    sign_in(client, role)
    html = client.get(f"/letters/{case}").text
    assert ("110101199003071234" in html) is not masked
    assert ("13812345678" in html) is not masked
    assert ("张三丰" in html) is not masked
    if masked:
        assert "张**" in html and "138****5678" in html and "已脱敏" in html


def test_accusation_views_are_audited_and_refused_to_the_handler(
    client: TestClient, app: Any, token_for: Any
) -> None:
    sign_in(client, "supervisor")
    case = register_page(client, text=ACCUSATION_TEXT)
    assert client.get(f"/letters/{case}").status_code == 200
    handler = TestClient(app)
    sign_in(handler, "department_handler")
    r = handler.get(f"/letters/{case}")
    assert r.status_code == 404 and ACCUSATION_TEXT not in r.text and "张三丰" not in r.text
    assert case not in handler.get("/?status=all").text
    views = audit(client, token_for, "view_confidential")
    assert [(e["actor"], e["details"]["allowed"]) for e in reversed(views)] == [
        ("supervisor", True),
        ("department.handler", False),
    ]


def test_intake_officer_sees_only_a_receipt_for_an_accusation(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    data = {**letter_payload(text=ACCUSATION_TEXT), "csrf_token": csrf_of(client, "/letters/new")}
    r = client.post("/letters/new", data=data, follow_redirects=False)
    assert r.status_code == 201
    assert "严格保密" in r.text and ACCUSATION_TEXT not in r.text and "<svg" in r.text


def test_exports_are_masked_for_analysts_and_audited(client: TestClient, token_for: Any) -> None:
    client.post("/api/v1/letters", json=letter_payload(), headers=token_for("intake_officer"))
    rows = client.get("/api/v1/exports/letters", headers=token_for("analyst")).json()
    assert rows["masked"] is True and rows["data"][0]["petitioner"] == "张**"
    full = client.get("/api/v1/exports/letters", headers=token_for("supervisor")).json()
    assert full["masked"] is False and full["data"][0]["petitioner"] == "张三丰"
    exports = audit(client, token_for, "export")
    assert [(e["actor"], e["details"]["masked"]) for e in reversed(exports)] == [
        ("analyst", True),
        ("supervisor", False),
    ]


def test_audit_chain_verifies_after_a_working_session(client: TestClient, token_for: Any) -> None:
    h = token_for("intake_officer")
    case = client.post("/api/v1/letters", json=letter_payload(), headers=h).json()["case_number"]
    letter = client.get(f"/api/v1/letters/{case}", headers=h).json()
    client.post(
        f"/api/v1/letters/{case}/decisions",
        headers=h,
        json={"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]},
    )
    body = client.get("/api/v1/audit?verify=true", headers=token_for("supervisor")).json()
    assert body["chain_ok"] is True
    assert {"login", "register_letter", "decide"} <= {e["action"] for e in body["data"]}
    sign_in(client, "supervisor")
    assert "完整" in client.get("/audit").text


def test_pages_send_security_headers(client: TestClient) -> None:
    r = client.get("/login")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    cookie = r.headers.get("set-cookie", "")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()


def _change(app: Any, action: str, username: str) -> None:
    from store.db import session_scope
    from store.users import set_password, update_user

    with session_scope(app.state.session_factory) as session:
        if action == "password":
            set_password(session, username, "Xin-mima 2027 qq", changed_by="administrator")
        else:
            update_user(session, username, changed_by="administrator", active=False)


@pytest.mark.parametrize("action", ["password", "deactivate"])
def test_password_change_or_deactivation_ends_tokens_and_sessions(
    client: TestClient, app: Any, token_for: Any, action: str
) -> None:
    headers = token_for("analyst")
    sign_in(client, "analyst")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.get("/", follow_redirects=False).status_code == 200
    _change(app, action, "analyst")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_handler_queue_lists_the_letters_transferred_to_their_department(
    client: TestClient, token_for: Any
) -> None:
    sup = token_for("supervisor")
    cases = []
    for department in ("housing", "transport"):
        case = client.post("/api/v1/letters", json=letter_payload(), headers=sup).json()["case_number"]
        letter = client.get(f"/api/v1/letters/{case}", headers=sup).json()
        body = {
            "proposal_id": letter["proposal"]["id"],
            "letter_version": letter["version"],
            "department": department,
            "reason": "按职责分工",
        }
        assert client.post(f"/api/v1/letters/{case}/decisions", headers=sup, json=body).status_code == 201
        cases.append(case)
    sign_in(client, "department_handler")
    html = client.get("/?status=all").text
    # Decided for the handler's body is not sent there yet: the office may still route it elsewhere.
    assert cases[0] not in html and cases[1] not in html
    for case in cases:
        draft = client.post(
            f"/api/v1/letters/{case}/documents/draft", headers=sup, json={"kind": "transfer_letter"}
        ).json()
        issued = client.post(
            f"/api/v1/letters/{case}/documents",
            headers=sup,
            json={"kind": "transfer_letter", "title": draft["title"], "paragraphs": draft["paragraphs"]},
        ).json()
        version = client.get(f"/api/v1/letters/{case}/case", headers=sup).json()["version"]
        step = {"step": "transfer", "fields": {"document_no": issued["number"]}, "version": version}
        assert client.post(f"/api/v1/letters/{case}/steps", headers=sup, json=step).status_code == 201
    html = client.get("/?status=all").text
    assert cases[0] in html and cases[1] not in html


def test_api_docs_load_nothing_from_another_site(client: TestClient) -> None:
    # An office network often has no internet: every script and style of /docs and /redoc is ours.
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets, f"{page} references no assets"
        for url in assets:
            assert url.startswith("/"), f"{page} loads {url} from another site"
            if url.endswith((".js", ".css")):
                r = client.get(url)
                assert r.status_code == 200, url
                assert len(r.content) > 10_000, url


# -- legal facts, the reason for confidentiality, letters that cannot be routed ----------------------

# The stand-in router reads three facts here (standin_router.FACT_KEYWORDS): 此前反映未果 in the
# title; 已起诉 and 民事纠纷 in the text, overlapping on 起诉, where three litigation rules also match.
FACT_TITLE = "屡次反映无果"
FACT_TEXT = (
    "装修押金的事我屡次反映，没有结果。我已向法院起诉了装修公司“A&B<装饰>”，法院已立案。请督促物业退还押金。"
)


class _Marks(HTMLParser):
    """The ``<mark>`` runs inside the element with ``id``; fails on a mark inside a mark."""

    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0  # open elements inside the wanted one, 0 = outside it
        self.mark: dict[str, str] | None = None
        self.in_sup = False
        self.runs: list[tuple[str, dict[str, str]]] = []  # (text, mark attributes or {} for plain)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self.depth:
            self.depth += 1
            if tag == "mark":
                assert self.mark is None, "a mark inside a mark"
                self.mark = a
                self.runs.append(("", a))
            self.in_sup = self.in_sup or tag == "sup"
        elif a.get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if tag == "mark":
                self.mark = None
            if tag == "sup":
                self.in_sup = False

    def handle_data(self, data: str) -> None:
        if not self.depth or self.in_sup:
            return
        if self.mark is not None:
            text, attrs = self.runs[-1]
            self.runs[-1] = (text + data, attrs)
        else:
            self.runs.append((data, {}))


def marks_of(html: str, element_id: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Marks(element_id)
    parser.feed(html)
    parser.close()
    assert parser.runs, f"no #{element_id} in the page"
    return parser.runs


def fact_text(runs: list[tuple[str, dict[str, str]]], tag: str) -> str:
    return "".join(t for t, a in runs if tag in a.get("data-facts", "").split())


def test_letter_page_lists_the_facts_and_marks_their_spans(client: TestClient) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client, title=FACT_TITLE, text=FACT_TEXT)
    html = client.get(f"/letters/{case}").text

    # The letter text: every run is plain or one mark, the runs give the text back, escaped.
    runs = marks_of(html, "letter-text")
    assert "".join(t for t, _ in runs) == FACT_TEXT
    assert "“A&amp;B&lt;装饰&gt;”" in html and "<装饰>" not in html
    start = FACT_TEXT.index("向法院起诉")
    assert fact_text(runs, "court_pending") == FACT_TEXT[start : start + 5]
    assert fact_text(runs, "civil_dispute") == "起诉了装修公司"
    # Where the two facts overlap the run carries both, and the rules that matched it as well.
    both = [(t, a) for t, a in runs if a.get("data-facts") == "court_pending civil_dispute"]
    assert [t for t, _ in both] == ["起诉"]
    assert both[0][1]["class"] == "rule fact" and "R-SS-02" in both[0][1]["data-rules"].split()
    assert "已起诉或案件在法院审理中、平等主体之间的民事纠纷" in both[0][1]["title"]
    assert [t for t, a in marks_of(html, "title-text") if a.get("data-facts") == "prior_complaint"] == [
        "屡次反映"
    ]

    # The list: name, percent, the sentence with the span marked and where it stands.
    facts = html[html.index('id="facts"') : html.index("</ol>", html.index('id="facts"'))]
    assert "<h3>案件事实</h3>" in html
    assert facts.index("已起诉或案件在法院审理中") < facts.index("此前已向有关机关反映未果")
    assert '<span class="score">91%</span>' in facts and '<span class="score">64%</span>' in facts
    assert (
        '我已<mark class="fact">向法院起诉</mark>了装修公司“A&amp;B&lt;装饰&gt;”，法院已立案。'
        f"（正文第 {start + 1}–{start + 5} 字）" in facts
    )
    assert '<mark class="fact">屡次反映</mark>无果（标题第 1–4 字）' in facts

    # The rule over facts names the facts it stands on.
    hit = re.search(r'<li id="hit-\d+" data-rule="R-SS-02">.*?</li>', html, re.S)
    assert hit is not None
    assert (
        '依据事实：<span class="fact-name">已起诉或案件在法院审理中</span> <span class="score">91%</span>'
        in (hit.group())
    )
    assert "court_pending" not in re.sub(r'data-facts="[^"]*"|data-fact="[^"]*"', "", html)  # names only


def test_marks_of_overlapping_spans_never_nest() -> None:
    from api.pages.letters import mark_field
    from api.presenters import WordBounds
    from routing.schemas import FactEvidence, LegalBasis, RuleHit

    text = "甲乙丙丁<戊>己庚"

    def fact(tag: str, start: int, end: int) -> FactEvidence:
        return FactEvidence(tag=tag, name=tag, p=0.9, field="text", start=start, end=end, quote=text)

    def hit(rule_id: str, start: int, end: int) -> RuleHit:
        basis = LegalBasis(article="第一条", quote="—")
        return RuleHit(
            rule_id=rule_id, title="t", kind="flag", priority=1, legal_basis=basis, field="text",
            start=start, end=end, matched=text[start:end],
        )  # fmt: skip

    hits = [hit("R-META", 0, 0), hit("R-1", 1, 6)]  # a visit's head count marks no text
    # Every character its own word, so the spans stay where the test puts them.
    bounds = WordBounds(bytes(len(text) + 1))
    facts = [fact("a", 0, 3), fact("b", 2, 8), fact("c", 2, 3)]
    marks = mark_field(text, hits, "text", facts=facts, bounds=bounds)
    assert "".join(m.text for m in marks) == text
    assert [(m.text, m.rules, m.facts, m.hit_numbers) for m in marks] == [
        ("甲", (), ("a",), ()),
        ("乙", ("R-1",), ("a",), ()),
        ("丙", ("R-1",), ("a", "b", "c"), ()),
        ("丁<戊", ("R-1",), ("b",), (2,)),  # the rule's number after its last character, as numbered
        (">己", (), ("b",), ()),
        ("庚", (), (), ()),
    ]
    assert marks[2].css == "rule fact" and marks[4].css == "fact" and not marks[5].marked


def test_a_visit_counted_over_five_people_still_opens(client: TestClient) -> None:
    # The head count alone fires the representatives rule: nothing in the text to mark.
    sign_in(client, "intake_officer")
    case = register_page(client, form="visit", visitors="8", text="我们村民来反映征地补偿问题，请求解决。")
    r = client.get(f"/letters/{case}")
    assert r.status_code == 200 and 'data-rule="R-DB-01"' in r.text


def test_masked_roles_read_the_facts_masked(client: TestClient, token_for: Any) -> None:
    text = "我已向法院起诉了装修公司，电话13812345678。请督促物业退还押金。"
    case = client.post(
        "/api/v1/letters", json=letter_payload(text=text), headers=token_for("intake_officer")
    ).json()["case_number"]
    full = client.get(f"/api/v1/letters/{case}", headers=token_for("intake_officer")).json()
    assert full["proposal"]["facts"][0]["quote"] == "我已向法院起诉了装修公司，电话13812345678。"
    r = client.get(f"/api/v1/letters/{case}", headers=token_for("analyst"))
    assert r.json()["proposal"]["facts"][0]["quote"] == "我已向法院起诉了装修公司，电话138****5678。"
    assert "13812345678" not in r.text
    sign_in(client, "analyst")
    html = client.get(f"/letters/{case}").text
    assert "13812345678" not in html
    assert '我已<mark class="fact">向法院起诉</mark>了装修公司，电话138****5678。' in html


def test_confidential_reason_and_facts_go_only_where_the_letter_goes(
    client: TestClient, app: Any, token_for: Any
) -> None:
    text = ACCUSATION_TEXT + "此事我屡次反映，没有结果。"
    case = client.post(
        "/api/v1/letters", json=letter_payload(text=text), headers=token_for("supervisor")
    ).json()["case_number"]
    for role in ("supervisor", "discipline_inspector"):
        p = client.get(f"/api/v1/letters/{case}", headers=token_for(role)).json()["proposal"]
        assert p["confidential_reason"] == "检举控告类事项，转纪检监察机关（第三十条）"
        assert [f["tag"] for f in p["facts"]] == ["prior_complaint"]
    for role in ("intake_officer", "analyst", "department_handler"):
        r = client.get(f"/api/v1/letters/{case}", headers=token_for(role))
        assert r.status_code == 404 and "屡次反映" not in r.text and "保密原因" not in r.text
    sign_in(client, "supervisor")
    html = client.get(f"/letters/{case}").text
    assert "<strong>保密原因：</strong>检举控告类事项，转纪检监察机关（第三十条）" in html
    handler = TestClient(app)
    sign_in(handler, "department_handler")
    r = handler.get(f"/letters/{case}")
    assert r.status_code == 404 and "屡次反映" not in r.text and "此前已向有关机关反映未果" not in r.text


NO_CHINESE = "Hello, this letter has no Chinese at all: 123 456."


def test_a_letter_that_cannot_be_routed_shows_no_route_and_a_blank_form(
    client: TestClient, token_for: Any
) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client, title="", text=NO_CHINESE)
    api = client.get(f"/api/v1/letters/{case}", headers=token_for("intake_officer")).json()
    assert api["proposal"]["routed"] is False and api["proposal"]["channel_source"] == "none"
    html = client.get(f"/letters/{case}").text
    card = html[html.index('id="proposal"') : html.index('id="decide"')]
    assert "不提出分流建议" in card and "无中文" in card and "无法分流" in card
    assert 'id="route"' not in card and 'id="p-category"' not in card and 'id="p-channel"' not in card
    assert "综合置信度" not in card and "no_chinese" not in card
    form = html[html.index('id="decide"') :]
    assert 'id="accept"' not in form and "按所选登记" in form
    for field in ("category", "domain", "department", "channel", "disposition"):
        select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', form, re.S)
        assert select is not None and " required" in select.group()
        assert select.group(1).startswith('<option value="">请选择</option>')
        assert "selected" not in select.group(1), f"{field} is chosen in advance"
    assert re.search(r'<textarea name="reason"[^>]* required>', form)


def test_a_letter_that_cannot_be_routed_is_decided_field_by_field(client: TestClient, token_for: Any) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client, title="", text=NO_CHINESE)
    letter = client.get(f"/api/v1/letters/{case}", headers=token_for("intake_officer")).json()
    chosen = {
        "category": "suggestion",
        "domain": "交通运输",
        "department": "transport",
        "channel": "suggestion",
        "disposition": "accept",
    }
    base = {"proposal_id": letter["proposal"]["id"], "letter_version": letter["version"]}

    def post(**data: str) -> Any:
        form = {**base, "csrf_token": csrf_of(client, f"/letters/{case}"), **data}
        return client.post(f"/letters/{case}/decide", data=form, follow_redirects=False)

    r = post(action="accept")  # nothing proposed, nothing to accept
    assert r.status_code == 422 and "本件没有分流建议" in r.text
    r = post(action="correct", reason="外文来信，经翻译为公交线路建议", **{**chosen, "domain": ""})
    assert r.status_code == 422 and "逐项选择" in r.text
    assert '<option value="transport" selected>' in r.text  # the choices made are kept
    assert (
        client.get(f"/api/v1/letters/{case}/decisions", headers=token_for("intake_officer")).json()["count"]
        == 0
    )
    r = post(action="correct", reason="外文来信，经翻译为公交线路建议", **chosen)
    assert r.status_code == 303
    decisions = client.get(f"/api/v1/letters/{case}/decisions", headers=token_for("intake_officer")).json()
    assert decisions["count"] == 1
    assert {k: decisions["data"][0][k] for k in chosen} == chosen


def test_the_api_takes_nothing_from_a_placeholder_route(client: TestClient, token_for: Any) -> None:
    sign_in(client, "intake_officer")
    case = register_page(client, title="", text=NO_CHINESE)
    headers = token_for("intake_officer")
    letter = client.get(f"/api/v1/letters/{case}", headers=headers).json()
    base = {
        "proposal_id": letter["proposal"]["id"],
        "letter_version": letter["version"],
        "reason": "外文来信",
    }
    r = client.post(
        f"/api/v1/letters/{case}/decisions", json={**base, "channel": "suggestion"}, headers=headers
    )
    assert r.status_code == 422 and "领域" in r.json()["error"] and "承办部门" in r.json()["error"]
    assert client.get(f"/api/v1/letters/{case}/decisions", headers=headers).json()["count"] == 0
    full = {
        "category": "suggestion",
        "domain": "交通运输",
        "department": "transport",
        "disposition": "accept",
    }
    r = client.post(
        f"/api/v1/letters/{case}/decisions", json={**base, "channel": "suggestion", **full}, headers=headers
    )
    assert r.status_code in (200, 201), r.text
