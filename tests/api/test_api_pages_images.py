"""Page images of scanned letters: the letter page shows them beside the text, the API serves them, and
both answer exactly as the letter itself does (404 to a role that may not open it)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_factories import ACCUSATION_TEXT, PASSWORD, letter_payload, make_settings

from intake.readers import encode_page_image
from service.settings import Settings
from store.db import session_scope
from store.files import NewLetterPage, add_letter_pages, keep_page_image
from store.letters import get_letter_by_case_number

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, storage_dir=tmp_path / "files")


def _register(client: TestClient, headers: dict[str, str], text: str | None = None) -> str:
    r = client.post(
        "/api/v1/letters", json=letter_payload(**({"text": text} if text else {})), headers=headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_number"])


def _scan(
    app: Any, case: str, sizes: list[tuple[int, int]], *, file_pages: list[int] | None = None
) -> list[bytes]:
    """Give the letter page images of these sizes, as batch triage records them; returns their bytes."""
    out = []
    with session_scope(app.state.session_factory) as session:
        letter = get_letter_by_case_number(session, case)
        pages = []
        for i, size in enumerate(sizes):
            picture = Image.new("L", size, 255)
            picture.paste(0, (10 + 7 * i, 10, 40 + 7 * i, 40))  # a different mark on every page
            image = encode_page_image(picture)
            kept = keep_page_image(app.state.settings.storage_dir, image.data, image.media_type)
            number = file_pages[i] if file_pages else i + 1
            pages.append(NewLetterPage(file_page=number, image=kept, width=image.width, height=image.height))
            out.append(image.data)
        add_letter_pages(session, letter.id, pages)
    return out


def _sign_in(client: TestClient, role: str) -> None:
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login",
        data={"username": role.replace("_", "."), "password": PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_the_api_lists_and_serves_the_page_images(client: TestClient, app: Any, token_for: Any) -> None:
    sup = token_for("supervisor")
    case = _register(client, sup)
    data = _scan(app, case, [(1131, 1600), (800, 600)])

    listing = client.get(f"/api/v1/letters/{case}/pages", headers=sup)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["count"] == 2
    assert [(p["number"], p["width"], p["height"], p["media_type"]) for p in body["data"]] == [
        (1, 1131, 1600, "image/jpeg"),
        (2, 800, 600, "image/jpeg"),
    ]
    for page, expected in zip(body["data"], data, strict=True):
        r = client.get(page["url"], headers=sup)
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert r.headers["cache-control"] == "no-store"
        assert r.content == expected
        with Image.open(io.BytesIO(r.content)) as img:
            assert img.format == "JPEG" and img.size == (page["width"], page["height"])

    assert client.get(f"/api/v1/letters/{case}/pages/3", headers=sup).status_code == 404
    assert client.get(f"/api/v1/letters/{case}/pages/0", headers=sup).status_code == 422
    assert client.get(f"/api/v1/letters/{case}/pages/..%2F..%2Fetc%2Fpasswd", headers=sup).status_code in (
        404,
        422,
    )
    typed = _register(client, sup)
    assert client.get(f"/api/v1/letters/{typed}/pages", headers=sup).json() == {"data": [], "count": 0}
    missing = client.get(f"/api/v1/letters/{typed}/pages/1", headers=sup)
    assert missing.status_code == 404 and "only scanned letters" in missing.json()["error"]


def test_pages_of_a_confidential_letter_follow_the_letter(
    client: TestClient, app: Any, token_for: Any
) -> None:
    sup = token_for("supervisor")
    secret = _register(client, sup, ACCUSATION_TEXT)
    ordinary = _register(client, sup)
    _scan(app, secret, [(600, 800)])
    _scan(app, ordinary, [(600, 800)])
    for role, want_secret, want_ordinary in [
        ("supervisor", 200, 200),
        ("discipline_inspector", 200, 404),
        ("intake_officer", 404, 200),
        ("analyst", 404, 200),
        ("department_handler", 404, 404),  # nothing is routed to the handler yet
        ("administrator", 403, 403),
    ]:
        headers = token_for(role)
        for case, want in ((secret, want_secret), (ordinary, want_ordinary)):
            letter = client.get(f"/api/v1/letters/{case}", headers=headers).status_code
            image = client.get(f"/api/v1/letters/{case}/pages/1", headers=headers)
            listing = client.get(f"/api/v1/letters/{case}/pages", headers=headers).status_code
            assert (letter, image.status_code, listing) == (want, want, want), (role, case)
            if want != 200:
                assert image.headers["content-type"].startswith("application/json")
    r = client.get("/api/v1/audit?action=view_confidential&limit=200", headers=sup)
    purposes = {(e["actor"], e["details"]["purpose"], e["details"]["allowed"]) for e in r.json()["data"]}
    assert ("intake.officer", "page image", False) in purposes
    assert ("discipline.inspector", "page image", True) in purposes


def test_the_letter_page_shows_numbered_thumbnails_linking_to_full_size(
    client: TestClient, app: Any, token_for: Any
) -> None:
    case = _register(client, token_for("supervisor"))
    data = _scan(app, case, [(1131, 1600), (1131, 1600)], file_pages=[3, 4])
    _sign_in(client, "intake_officer")
    page = client.get(f"/letters/{case}")
    assert page.status_code == 200
    html = page.text
    assert "共 2 页" in html and html.index('id="page-images"') < html.index('id="letter-text"')
    for n in (1, 2):
        assert f'<a href="/letters/{case}/pages/{n}"' in html
        assert f'<img src="/letters/{case}/pages/{n}"' in html
        assert f"第 {n} 页（原文件第 {n + 2} 页）" in html
    assert 'width="160" height="226"' in html
    full = client.get(f"/letters/{case}/pages/2")
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    assert full.content == data[1]
    assert client.get(f"/letters/{case}/pages/9").status_code == 404

    typed = _register(client, token_for("supervisor"))
    assert 'id="page-images"' not in client.get(f"/letters/{typed}").text

    anonymous = TestClient(app)
    r = anonymous.get(f"/letters/{case}/pages/1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login") and not r.content


def test_a_page_image_lost_from_storage_is_a_server_fault_not_a_leak(
    client: TestClient, app: Any, token_for: Any
) -> None:
    sup = token_for("supervisor")
    case = _register(client, sup)
    _scan(app, case, [(300, 400)])
    storage = Path(app.state.settings.storage_dir)
    for path in (storage / "pages").rglob("*.jpg"):
        path.write_bytes(b"not the image that was kept")
    r = client.get(f"/api/v1/letters/{case}/pages/1", headers=sup)
    assert r.status_code == 500
    assert str(storage) not in r.text and "not the image" not in r.text
