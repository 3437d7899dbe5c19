"""The officers' pages: sign-in, CSRF, the letter page's highlights, masking, and the audit trail."""

from __future__ import annotations

import re
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


def test_handler_queue_lists_the_letters_routed_to_their_department(
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
    html = client.get("/").text
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
