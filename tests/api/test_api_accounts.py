"""Accounts from outside: sessions that end at once, sign-in locks per address, account management,
and roles that may read accusations given only by a second person (API, pages)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_factories import ACCUSATION_TEXT, PASSWORD, letter_payload, make_settings

from api.app import create_app

NEW_PASSWORD = "Xin-mima 2027 qq"


def token(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def form_token(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": form_token(client.get("/login").text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def audit(client: TestClient, action: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/audit?action={action}", headers=token(client, "supervisor"))
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


# --- sessions ------------------------------------------------------------------------------------


def test_a_copied_cookie_is_dead_right_after_logout(client: TestClient, app: Any) -> None:
    sign_in(client, "analyst")
    assert client.get("/", follow_redirects=False).status_code == 200
    thief = TestClient(app, cookies=dict(client.cookies))
    assert thief.get("/", follow_redirects=False).status_code == 200
    r = client.post("/logout", data={"csrf_token": form_token(client.get("/").text)}, follow_redirects=False)
    assert r.status_code == 303
    r = thief.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert [e["actor"] for e in audit(client, "logout")] == ["analyst"]


def test_a_token_and_its_copies_die_at_api_logout(client: TestClient) -> None:
    headers = token(client, "analyst")
    other = token(client, "analyst")  # a second session of the same account lives on
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    r = client.get("/api/v1/auth/me", headers=dict(headers))
    assert r.status_code == 401 and "已被注销" in r.json()["error"]
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200


@pytest.mark.parametrize("action", ["password", "deactivate"])
def test_a_reset_or_deactivation_by_the_administrator_ends_every_session(
    client: TestClient, app: Any, action: str
) -> None:
    headers = token(client, "analyst")
    browser = TestClient(app)
    sign_in(browser, "analyst")
    admin = token(client, "administrator")
    if action == "password":
        r = client.post("/api/v1/users/analyst/password", json={"password": NEW_PASSWORD}, headers=admin)
    else:
        r = client.post("/api/v1/users/analyst/deactivate", headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert browser.get("/", follow_redirects=False).status_code == 303
    if action == "password":
        assert (
            client.get("/api/v1/auth/me", headers=token(client, "analyst", NEW_PASSWORD)).status_code == 200
        )
    else:
        assert (
            client.post("/api/v1/auth/token", data={"username": "analyst", "password": PASSWORD}).status_code
            == 401
        )
        assert client.post("/api/v1/users/analyst/reactivate", headers=admin).json()["active"] is True
        assert client.get("/api/v1/auth/me", headers=token(client, "analyst")).status_code == 200
    action_name = "password_reset" if action == "password" else "user_deactivated"
    assert [(e["actor"], e["object"]) for e in audit(client, action_name)] == [
        ("administrator", "user:analyst")
    ]


def test_an_administrator_cannot_deactivate_themselves(client: TestClient) -> None:
    admin = token(client, "administrator")
    r = client.post("/api/v1/users/administrator/deactivate", headers=admin)
    assert r.status_code == 403 and "不能停用自己的账户" in r.json()["error"]
    assert client.get("/api/v1/auth/me", headers=admin).status_code == 200


# --- sign-in locks and the rate limit ------------------------------------------------------------


@pytest.fixture
def limited_app(tmp_path: Any, sqlite_template: Any, standin_router: Any) -> Any:
    import shutil

    path = tmp_path / "limits.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return create_app(
        make_settings(f"sqlite:///{path}", login_attempts=3, login_window=600), router=standin_router
    )


def test_an_office_behind_one_address_signs_in_its_whole_shift(limited_app: Any) -> None:
    with TestClient(limited_app, client=("192.0.2.10", 40000)) as office:
        for _ in range(25):  # far more good sign-ins than the 3 attempts the address may fail
            token(office, "intake.officer")
        codes = [
            office.post(
                "/api/v1/auth/token", data={"username": "analyst", "password": "wrong-pass 123"}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]


def test_guessing_from_one_address_does_not_lock_the_administrator_out_elsewhere(app: Any) -> None:
    with (
        TestClient(app, client=("203.0.113.66", 40000)) as attacker,
        TestClient(app, client=("10.20.30.40", 40000)) as desk,
    ):
        for _ in range(6):
            r = attacker.post(
                "/api/v1/auth/token", data={"username": "administrator", "password": "guess-guess 1"}
            )
            assert r.status_code == 401
        # locked for the attacker's address, even with the right password ...
        assert (
            attacker.post(
                "/api/v1/auth/token", data={"username": "administrator", "password": PASSWORD}
            ).status_code
            == 401
        )
        # ... but not for the administrator at their own desk
        admin = token(desk, "administrator")
        listed = desk.get("/api/v1/users", headers=admin)
        assert listed.status_code == 200
        r = desk.post("/api/v1/users/administrator/unlock", headers=admin)
        assert r.status_code == 200, r.text
        token(attacker, "administrator")  # the unlock lifted the lock for every address
        unlocked = audit(desk, "user_unlocked")
        assert [(e["actor"], e["details"]["addresses"]) for e in unlocked] == [("administrator", 1)]


def test_the_users_page_shows_a_lock_and_unlocks_it(app: Any) -> None:
    with TestClient(app, client=("203.0.113.66", 40000)) as attacker:
        for _ in range(5):
            attacker.post("/api/v1/auth/token", data={"username": "analyst", "password": "guess-guess 1"})
    with TestClient(app) as admin:
        sign_in(admin, "administrator")
        page = admin.get("/admin/users").text
        row = page.split('id="user-analyst"')[1].split("</tr>")[0]
        assert "已锁定（1 个地址" in row
        r = admin.post("/admin/users/analyst/unlock", data={"csrf_token": form_token(page)})
        assert r.status_code == 200 and "已解除“analyst”的登录锁定（涉及 1 个地址）" in r.text
        assert "已锁定" not in r.text.split('id="user-analyst"')[1].split("</tr>")[0]


# --- account management on the page --------------------------------------------------------------


def test_deactivate_reset_and_change_role_on_the_page(client: TestClient, app: Any) -> None:
    sign_in(client, "administrator")
    csrf = form_token(client.get("/admin/users").text)
    r = client.post("/admin/users/analyst/deactivate", data={"csrf_token": csrf})
    assert r.status_code == 200 and "已停用账户“analyst”" in r.text
    assert "已停用" in r.text.split('id="user-analyst"')[1].split("</tr>")[0]
    r = client.post("/admin/users/administrator/deactivate", data={"csrf_token": csrf})
    assert r.status_code == 403 and "不能停用自己的账户" in r.text
    r = client.post("/admin/users/analyst/reactivate", data={"csrf_token": csrf})
    assert r.status_code == 200 and "已启用账户“analyst”" in r.text
    r = client.post(
        "/admin/users/analyst/password", data={"csrf_token": csrf, "password": "analyst-Pass 2027"}
    )
    assert r.status_code == 422 and "包含了用户名“analyst”" in r.text and "至少需要" not in r.text
    r = client.post("/admin/users/analyst/password", data={"csrf_token": csrf, "password": NEW_PASSWORD})
    assert r.status_code == 200 and "已为“analyst”设置新密码" in r.text
    r = client.post("/admin/users/analyst/role", data={"csrf_token": csrf, "role": "intake_officer"})
    assert r.status_code == 200 and "已将“analyst”的角色改为接待／办信人员" in r.text
    token(client, "analyst", NEW_PASSWORD)


def test_two_letter_usernames_are_accepted(client: TestClient) -> None:
    admin = token(client, "administrator")
    body = {"username": "li", "display_name": "李", "role": "analyst", "password": "Qing-shui 2026 he"}
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201, r.text
    token(client, "li", "Qing-shui 2026 he")
    r = client.post(
        "/api/v1/users", json=body | {"username": "wu", "password": "Wu-jiang 2026 chun"}, headers=admin
    )
    assert r.status_code == 422
    assert r.json()["error"] == "密码不符合要求：包含了用户名“wu”，请去掉它。请换一个密码再试。"


# --- a second person for roles that read accusations ---------------------------------------------


def _accusation(client: TestClient) -> str:
    r = client.post(
        "/api/v1/letters", json=letter_payload(text=ACCUSATION_TEXT), headers=token(client, "supervisor")
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_number"])


def test_an_administrator_cannot_grant_themselves_inspector_access(client: TestClient) -> None:
    case = _accusation(client)
    admin = token(client, "administrator")
    # The one request that used to be enough now only asks.
    r = client.post("/api/v1/users/administrator/role", json={"role": "discipline_inspector"}, headers=admin)
    assert r.status_code == 202, r.text
    request = r.json()
    assert (request["kind"], request["status"], request["requested_by"]) == (
        "raise",
        "pending",
        "administrator",
    )
    assert client.get("/api/v1/auth/me", headers=admin).json()["role"] == "administrator"
    # A fresh account with the role is only a request too, and cannot sign in meanwhile.
    body = {
        "username": "sock.puppet",
        "display_name": "傀儡",
        "role": "discipline_inspector",
        "password": "Qing-shui 2026 he",
    }
    r = client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 202 and r.json()["kind"] == "create"
    assert (
        client.post(
            "/api/v1/auth/token", data={"username": "sock.puppet", "password": body["password"]}
        ).status_code
        == 401
    )
    # The administrator may see the requests but approve none.
    pending = client.get("/api/v1/users/requests", headers=admin).json()
    assert pending["count"] == 2
    r = client.post(f"/api/v1/users/requests/{request['id']}/approve", headers=admin)
    assert r.status_code == 403 and "批准或拒绝角色申请" in r.json()["error"]
    inspector = token(client, "discipline.inspector")
    r = client.post(
        f"/api/v1/users/requests/{pending['data'][0]['id']}/refuse",
        json={"reason": "无此人"},
        headers=inspector,
    )
    assert r.status_code == 200 and r.json()["status"] == "refused"
    r = client.post(f"/api/v1/users/requests/{request['id']}/approve", headers=inspector)
    assert r.status_code == 200 and r.json()["role"] == "discipline_inspector"
    assert (
        client.get(f"/api/v1/letters/{case}", headers=admin).status_code == 200
    )  # the same token, role read anew
    actions = [(e["action"], e["actor"]) for e in reversed(audit(client, "role_requested"))]
    assert actions == [("role_requested", "administrator")] * 2
    assert [e["actor"] for e in audit(client, "role_request_approved")] == ["discipline.inspector"]
    assert [e["details"]["reason"] for e in audit(client, "role_request_refused")] == ["无此人"]


def test_a_raised_analyst_reads_no_accusation_until_approved(client: TestClient) -> None:
    case = _accusation(client)
    analyst = token(client, "analyst")
    r = client.post(
        "/api/v1/users/analyst/role",
        json={"role": "supervisor", "reason": "任科长"},
        headers=token(client, "administrator"),
    )
    assert r.status_code == 202
    assert client.get(f"/api/v1/letters/{case}", headers=analyst).status_code == 404
    r = client.post(f"/api/v1/users/requests/{r.json()['id']}/approve", headers=token(client, "supervisor"))
    assert r.status_code == 200
    assert client.get(f"/api/v1/letters/{case}", headers=analyst).status_code == 200


def test_requests_are_made_and_approved_on_the_pages(client: TestClient, app: Any) -> None:
    sign_in(client, "administrator")
    page = client.get("/admin/users").text
    r = client.post(
        "/admin/users",
        data={
            "csrf_token": form_token(page),
            "username": "zhao",
            "display_name": "赵",
            "role": "supervisor",
            "password": "Qing-shui 2026 he",
            "reason": "新任科长",
        },
    )
    assert r.status_code == 202 and "须由另一位科室负责人或纪检监察人员" in r.text
    assert "新开科室负责人账户（赵）" in r.text.split('id="pending-requests"')[1]
    chief = TestClient(app)
    sign_in(chief, "supervisor")
    page = chief.get("/approvals").text
    assert "新任科长" in page and 'action="/approvals/1/approve"' in page
    r = chief.post("/approvals/1/approve", data={"csrf_token": form_token(page)})
    assert r.status_code == 200 and "已批准第 1 号申请：“zhao”现在是科室负责人" in r.text
    token(client, "zhao", "Qing-shui 2026 he")
    # a refusal on the page needs its reason
    r = client.post(
        "/admin/users/analyst/role",
        data={"csrf_token": form_token(client.get("/admin/users").text), "role": "discipline_inspector"},
    )
    assert r.status_code == 200 and "已提交第 2 号申请" in r.text
    csrf = form_token(chief.get("/approvals").text)
    r = chief.post("/approvals/2/refuse", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 422 and "需要填写理由" in r.text
    r = chief.post("/approvals/2/refuse", data={"csrf_token": csrf, "reason": "不在纪检组"})
    assert r.status_code == 200 and "已拒绝第 2 号申请" in r.text and "已拒绝：不在纪检组" in r.text


@pytest.mark.parametrize("target", ["supervisor", "discipline.inspector"])
def test_an_administrator_cannot_take_over_an_account_that_reads_accusations(
    client: TestClient, target: str
) -> None:
    # Setting its password would let the administrator sign in as it: the grant that item 3 puts
    # behind a second person, by another door.
    admin = token(client, "administrator")
    r = client.post(f"/api/v1/users/{target}/password", headers=admin, json={"password": NEW_PASSWORD})
    assert r.status_code == 403 and "不能由他人在此重置" in r.json()["error"]
    r = client.post("/api/v1/auth/token", data={"username": target, "password": NEW_PASSWORD})
    assert r.status_code == 401
    assert token(client, target)  # the holder's own password still works
    assert audit(client, "password_reset") == []


def test_an_administrator_still_resets_an_ordinary_account(client: TestClient) -> None:
    admin = token(client, "administrator")
    r = client.post("/api/v1/users/analyst/password", headers=admin, json={"password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert token(client, "analyst", NEW_PASSWORD)
    assert [e["object"] for e in audit(client, "password_reset")] == ["user:analyst"]
