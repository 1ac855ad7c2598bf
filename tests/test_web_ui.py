"""The web UI end to end: a real server, the built UI and Debian's Chromium driven by Playwright.

One journey covers the main path of the product through the UI: sign in with a token, upload a
file, find it in the list, read its timeline, put a legal hold on it, preview a purge and see
the hold block it. Screenshots at phone (390 px) and desktop (1440 px) widths are saved under
``tests/output/web`` for people to look at; axe-core checks the main pages for serious or
critical accessibility problems. Without Chromium, npm or a built UI the tests skip saying
which is missing (and in CI a skip fails the run, see conftest).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keycloak import Realm
from lake_helpers import charge, focus_csv, upload, wait_for_event

from conftest import ADMIN_TOKEN, ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
WEB = ROOT / "web"
DIST = WEB / "dist"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "tests" / "output" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WIDTHS = {"phone": (390, 844), "desktop": (1440, 900)}

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture(scope="module")
def built_ui() -> Path:
    """``web/dist``, built first when missing or older than its sources (``make web``)."""
    if shutil.which("npm") is None:
        if not (DIST / "index.html").is_file():
            pytest.skip("the web UI is not built and npm is missing: install Node.js 20+")
    else:
        # Test workers may start together: one builds, the others wait for it.
        with (WEB / ".build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            subprocess.run(["make", "-s", "web"], cwd=ROOT, check=True, timeout=900)
    if not (DIST / "index.html").is_file():
        pytest.skip(f"the web UI is not built ({DIST} has no index.html): run `make web`")
    if not AXE.is_file():
        pytest.skip(f"axe-core is missing ({AXE}): run `make web`")
    return DIST


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed ({CHROMIUM}): apt-get install chromium")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, built_ui: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("web-ui") / "home", DATOFERUM_WEB_ROOT=str(built_ui))
    live.start()
    yield live
    live.stop()


def open_page(
    browser: Any, server: LiveServer, *, elsewhere: tuple[str, ...] = (), **options: Any
) -> tuple[Any, Any, list[str]]:
    """A fresh context (empty storage) in English at desktop width, signed out. ``elsewhere``
    names the other origins the page may reach (the sign-in provider)."""
    context = browser.new_context(
        base_url=server.url,
        viewport={"width": 1440, "height": 900},
        locale="en-US",
        timezone_id="UTC",
        **options,
    )
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))

    # Nothing may come from elsewhere (fonts, scripts, CDNs): such a request is refused and
    # reported. data: and blob: URLs are the page's own.
    def outside(route: Any) -> None:
        errors.append(f"request outside the server: {route.request.url}")
        route.abort()

    own = (server.url, "data:", "blob:", *elsewhere)
    context.route(lambda url: not url.startswith(own), outside)
    return context, opened, errors


@pytest.fixture
def page(browser: Any, ui_server: LiveServer) -> Iterator[Any]:
    context, opened, errors = open_page(browser, ui_server)
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def audited_page(browser: Any, ui_server: LiveServer) -> Iterator[Any]:
    """A page that lets axe-core's script in past the UI's Content-Security-Policy."""
    context, opened, errors = open_page(browser, ui_server, bypass_csp=True)
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def sign_in(page: Any) -> None:
    page.goto("/")
    page.fill("#token", ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard", level=1).wait_for()


def screenshots(page: Any, name: str) -> None:
    """Both widths of the current page; the viewport is put back to desktop afterwards."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # layout settles (menus collapse, lists switch to cards)
        page.screenshot(path=str(OUTPUT / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the current page."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        f"{[node['target'] for node in violation['nodes']][:3]}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def is_dark(page: Any) -> bool:
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(part) for part in background[background.index("(") + 1 : -1].split(",")[:3]]
    return sum(channels) < 3 * 80


def test_sign_in_refuses_a_wrong_token(page: Any) -> None:
    page.goto("/files")
    page.fill("#token", "not-a-token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="token").wait_for()
    assert "/login" in page.url


def test_the_menu_follows_the_role(page: Any, ui_server: LiveServer) -> None:
    with ui_server.client() as client:
        made = client.post("/api/v1/tokens", json={"name": "ui producer", "role": "producer"})
    page.goto("/")
    page.fill("#token", made.json()["token"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard", level=1).wait_for()
    menu = page.get_by_role("menuitem")
    menu.filter(has_text="Upload").wait_for()
    names = {text.strip() for text in menu.all_inner_texts()}
    assert {"Dashboard", "Files", "Upload", "Insights"} <= names, names
    assert not names & {
        "Holds",
        "Jobs",
        "Events",
        "Audit",
        "Policies",
        "Webhooks",
        "Erasure",
        "Download links",
    }
    # A producer may not verify the chain: the server's reason is shown (403), and the tab
    # stays signed in (only a 401 signs out).
    page.goto("/audit")
    page.get_by_role("button", name="Verify the chain").click()
    page.get_by_role("alert").filter(has_text="the producer role may not").wait_for()
    assert "/login" not in page.url
    assert page.evaluate("sessionStorage.getItem('datoferum.token')")


def test_upload_find_timeline_hold_and_blocked_purge(page: Any, ui_server: LiveServer) -> None:
    sign_in(page)
    assert page.evaluate("sessionStorage.getItem('datoferum.token')") == ADMIN_TOKEN
    screenshots(page, "dashboard")

    # Upload through the form, with a metadata header.
    page.get_by_role("menuitem", name="Upload").click()
    page.fill("#upload-collection", "ui-journey")
    page.fill("#upload-path", "reports/q1.csv")
    page.fill("#upload-metadata", "owner=finance")
    body = b"quarter,total\nq1,42\n" * 2000
    page.get_by_test_id("upload-file").set_input_files(
        {"name": "q1.csv", "mimeType": "text/csv", "buffer": body}
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    page.get_by_role("link", name="Uploaded reports/q1.csv, version 1.").wait_for()
    assert page.get_by_role("progressbar").first.get_attribute("aria-valuenow") == "100"
    screenshots(page, "upload")

    # The server has it, as the UI said.
    with ui_server.client() as client:
        listed = client.get("/api/v1/files", params={"collection": "ui-journey"}).json()["items"]
    assert [(item["path"], item["size"]) for item in listed] == [("reports/q1.csv", len(body))]

    # Find it in the list by searching its path.
    page.get_by_role("menuitem", name="Files").click()
    page.get_by_placeholder("Search in paths").fill("q1.csv")
    row = page.get_by_role("row").filter(has_text="reports/q1.csv")
    row.wait_for()
    screenshots(page, "files")
    row.click()

    # Its page: record and timeline.
    page.get_by_role("heading", name="ui-journey/reports/q1.csv", level=1).wait_for()
    timeline = page.get_by_test_id("timeline")
    timeline.get_by_text("file.captured").wait_for()
    # The metadata arrives with the record, which may render after the timeline.
    page.wait_for_function("() => document.body.innerText.includes('owner: finance')")

    # Put a legal hold on it.
    page.get_by_role("button", name="Place a hold").click()
    page.fill("#hold-reason", "litigation 2026-17")
    page.fill("#hold-owner", "legal")
    page.get_by_role("dialog").get_by_role("button", name="Place a hold").click()
    page.get_by_text("Held by 1 active hold(s)").wait_for()
    timeline.get_by_text("hold.placed").wait_for()
    screenshots(page, "file")

    # A purge preview shows the hold blocking it.
    page.get_by_role("button", name="Preview purge").click()
    blocked = page.get_by_test_id("purge-blocked")
    blocked.wait_for()
    assert "Blocked by a legal hold" in blocked.inner_text()
    screenshots(page, "purge-preview")
    page.get_by_role("button", name="Close").click()

    # The hold is in the holds list, and nothing was purged.
    page.get_by_role("menuitem", name="Holds").click()
    page.get_by_role("row").filter(has_text="litigation 2026-17").wait_for()
    with ui_server.client() as client:
        record = client.get(f"/api/v1/files/{listed[0]['id']}").json()
    assert record["state"] == "stored"


def test_dashboard_follows_new_events(page: Any, ui_server: LiveServer) -> None:
    sign_in(page)
    page.get_by_test_id("live").wait_for()
    listings: list[str] = []
    page.on(
        "request",
        lambda request: listings.append(request.url) if "/api/v1/events?" in request.url else None,
    )
    with ui_server.client() as client:
        client.put("/api/v1/data/ui-live/pushed.txt", content=b"pushed")
    # It arrives through the event stream, not through a new listing of the events.
    page.get_by_text("pushed.txt").first.wait_for(timeout=10_000)
    assert listings == []


def test_dashboard_shows_captures_purges_due_and_lag(page: Any, ui_server: LiveServer) -> None:
    with ui_server.client() as client:
        client.put("/api/v1/data/ui-activity/today.txt", content=b"today")
        activity = client.get("/api/v1/stats/activity", params={"days": "30"}).json()
    today = activity["captured"][-1]
    sign_in(page)
    page.get_by_text("Versions captured per day (last 30 days)").wait_for()
    page.get_by_text("Purges due per day (next 30 days)").wait_for()
    assert "Purge lag (oldest overdue): 0 s" in page.get_by_test_id("purge-lag").inner_text()
    # Each chart is described for screen readers: the captures' description carries today's
    # count.
    labels = page.evaluate(
        "[...document.querySelectorAll('[aria-label]')].map((node) => node.getAttribute("
        "'aria-label'))"
    )
    described = [label for label in labels if label.startswith("Versions captured per day")]
    assert len(described) == 1, labels
    assert f"{today['day']}: {today['versions']:,} (" in described[0], described
    screenshots(page, "dashboard")


def test_audit_chain_and_a_certificate_checked_in_the_browser(
    page: Any, ui_server: LiveServer
) -> None:
    with ui_server.client() as client:
        file_id = client.put("/api/v1/data/ui-audit/gone.txt", content=b"bye").json()["id"]
        purged = client.post(f"/api/v1/files/{file_id}/purge", json={"reason": "test"})
        assert purged.status_code == 200, purged.text
        certificate_id = purged.json()["items"][0]["certificate_id"]
    sign_in(page)
    page.get_by_role("menuitem", name="Audit").click()
    page.get_by_role("button", name="Verify the chain").click()
    assert "The chain is intact" in page.get_by_test_id("verify-result").inner_text()
    page.fill("#certificate-id", certificate_id)
    page.get_by_role("button", name="Fetch").click()
    page.get_by_text("The signature is valid for key ed25519:").wait_for()
    screenshots(page, "audit")

    # A certificate changed on its way (here: its size) must fail the check in the browser.
    def tamper(route: Any) -> None:
        answer = route.fetch()
        exported = answer.json()
        exported["certificate"]["size"] += 1
        route.fulfill(response=answer, json=exported)

    page.route("**/api/v1/certificates/*", tamper)
    page.get_by_role("button", name="Fetch").click()
    page.get_by_text("The signature does not verify: bad signature").wait_for()


def test_policy_editor_shows_the_servers_problems_then_a_dry_run(page: Any) -> None:
    sign_in(page)
    page.goto("/policies/create")
    broken = (
        "policies:\n  - name: ui-tier\n    resource: file\n    mode: {type: manual}\n"
        "    filters:\n      - colection: ui-journey\n    actions:\n      - tag: {tier: ui}\n"
    )
    page.fill("#policy-yaml", broken)
    page.get_by_role("button", name="Validate and apply").click()
    problems = page.get_by_role("alert").filter(has_text="The document has problems")
    problems.wait_for()
    assert "line 6" in problems.inner_text() and "colection" in problems.inner_text()

    page.fill("#policy-yaml", broken.replace("colection", "collection"))
    page.get_by_role("button", name="Validate and apply").click()
    page.get_by_role("heading", name="ui-tier · v1", level=1).wait_for()
    page.get_by_role("button", name="Dry run").click()
    page.get_by_text("file(s) match").wait_for()


def test_portuguese_and_dark_theme(page: Any) -> None:
    sign_in(page)
    page.get_by_role("button", name="English").click()
    page.get_by_role("menuitem", name="Português (Brasil)").click()
    page.get_by_role("heading", name="Painel", level=1).wait_for()
    page.get_by_role("menuitem", name="Arquivos").wait_for()
    page.get_by_role("button", name="Alternar modo claro/escuro").click()
    assert is_dark(page), "the dark theme did not apply"
    screenshots(page, "dashboard-pt-dark")


def test_file_page_sends_and_lists_signals(page: Any, ui_server: LiveServer) -> None:
    with ui_server.client() as client:
        made = client.put("/api/v1/data/ui-signals/episode-01.mxf", content=b"mxf" * 100)
    file_id = made.json()["id"]
    sign_in(page)
    page.goto(f"/files/{file_id}/show")
    page.get_by_text("No signal about this file yet.").wait_for()
    page.fill("#signal-name", "published")
    page.get_by_role("button", name="Send signal").click()
    table = page.get_by_role("table", name="Signals")
    table.get_by_role("cell", name="published", exact=True).wait_for()
    with ui_server.client() as client:
        sent = client.get(f"/api/v1/files/{file_id}/signals").json()["items"]
    assert [(item["name"], item["actor"]) for item in sent] == [
        ("published", f"token:{_admin_id(ui_server)}")
    ]


def _admin_id(server: LiveServer) -> str:
    with server.client() as client:
        return str(client.get("/api/v1/whoami").json()["subject"]).removeprefix("token:")


def test_erasure_preview_execute_and_follow(page: Any, ui_server: LiveServer) -> None:
    subject = "cpf:123.456.789-09"
    with ui_server.client() as client:
        client.put(
            "/api/v1/data/ui-erasure/interview.wav",
            content=b"voice",
            headers={"X-Meta-Subject": subject},
        )
    sign_in(page)
    page.goto("/erasure")
    page.fill("#erasure-value", subject)
    page.fill("#erasure-reason", "titular asked (LGPD art. 18)")
    page.get_by_role("button", name="Preview").click()
    page.get_by_text('"would-purge": 1').wait_for()
    page.get_by_role("button", name="Erase").click()
    table = page.get_by_role("table", name="Requests")
    row = table.get_by_role("row").filter(has_text="titular asked")
    row.first.wait_for()
    row.first.get_by_text("succeeded").wait_for(timeout=60_000)  # followed while it runs
    assert subject not in table.inner_text()


def test_jobs_page_follows_a_job_without_reloading(page: Any, ui_server: LiveServer) -> None:
    sign_in(page)
    page.get_by_role("menuitem", name="Jobs").click()
    page.wait_for_url("**/jobs")
    page.wait_for_timeout(1000)  # the first listing is in: what follows must come on its own
    with ui_server.client() as client:
        started = client.post("/api/v1/storage/report")
    assert started.status_code == 202, started.text
    loads = page.evaluate("performance.getEntriesByType('navigation').length")
    row = page.get_by_role("row").filter(has_text="storage.report")
    row.first.get_by_text("succeeded").wait_for(timeout=30_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads


def test_insights_show_cost_from_the_lake(page: Any, ui_server: LiveServer) -> None:
    rows = [
        charge("ui-insights", "2024-03-04", "Transcoding", "120.50"),
        charge("ui-insights", "2024-04-09", "Transcoding", "80.25"),
        charge("ui-insights", "2024-04-10", "Archive Storage", "9.75", category="Storage"),
    ]
    with ui_server.client() as client:
        record = upload(client, "ui-insights", "billing/focus-2024.csv", focus_csv(rows))
        done = wait_for_event(client, record["id"], ["lake.normalized", "lake.normalize_failed"])
    assert done["type"] == "lake.normalized", done
    sign_in(page)
    page.get_by_role("menuitem", name="Insights").click()
    page.get_by_text("BilledCost by month and ServiceName").wait_for()
    table = page.get_by_role("table", name="Largest by ServiceName")
    first = table.get_by_role("row").nth(1)
    first.get_by_text("Transcoding").wait_for()
    assert "$200.75" in first.inner_text()
    page.get_by_label("Group by").click()
    page.get_by_role("option", name="ServiceCategory").click()
    page.get_by_role("table", name="Largest by ServiceCategory").get_by_text("Storage").wait_for()
    # The chart's answer may come after the table's: wait for it (the page's CSP forbids the
    # eval that Playwright's wait_for_function needs).
    expected = (
        "Insights. Compute: 2024-03 120.50, 2024-04 80.25; Storage: 2024-03 0.00, 2024-04 9.75."
    )
    for _ in range(20):
        labels = page.evaluate(
            "[...document.querySelectorAll('[aria-label]')].map((node) => node.getAttribute("
            "'aria-label'))"
        )
        if expected in labels:
            break
        page.wait_for_timeout(500)
    else:
        raise AssertionError(f"the chart never showed the categories: {labels}")
    screenshots(page, "insights")


def test_links_page_lists_and_revokes(page: Any, ui_server: LiveServer) -> None:
    with ui_server.client() as client:
        made = client.put("/api/v1/data/ui-links/trailer-cut.mov", content=b"frames" * 100)
        link = client.post(f"/api/v1/files/{made.json()['id']}/links", json={"max_picks": 3})
    assert link.status_code == 201, link.text
    sign_in(page)
    page.get_by_role("menuitem", name="Download links").click()
    row = page.get_by_role("row").filter(has_text="trailer-cut.mov")
    row.get_by_text("0 / 3").wait_for()
    row.get_by_text("active").wait_for()
    screenshots(page, "links")
    row.get_by_role("button", name="Revoke").click()
    row.wait_for(state="detached")  # the list shows active links, and this one no longer is
    with ui_server.client() as client:
        listed = client.get(f"/api/v1/files/{made.json()['id']}/links").json()["items"]
    assert [item["state"] for item in listed] == ["revoked"]


MAIN_PAGES = [
    ("/", "Dashboard"),
    ("/files", "Files"),
    ("/upload", "Upload a file"),
    ("/holds", "Holds"),
    ("/jobs", "Jobs"),
    ("/events", "Events"),
    ("/audit", "Audit"),
    ("/policies", "Policies"),
    ("/links", "Download links"),
    ("/insights", "Insights"),
]


def test_main_pages_have_no_serious_accessibility_problems(audited_page: Any) -> None:
    """Every main page in the light theme, then again in the dark one (contrast differs)."""
    page = audited_page
    page.goto("/")
    page.locator("#token").wait_for()
    found = {"login": serious_violations(page)}
    sign_in(page)
    for theme in ("light", "dark"):
        if theme == "dark":
            page.get_by_role("button", name="Toggle light/dark mode").click()
        for path, ready in MAIN_PAGES:
            page.goto(path)
            page.get_by_text(ready).first.wait_for()
            page.wait_for_timeout(500)
            assert is_dark(page) == (theme == "dark"), path
            found[f"{path} ({theme})"] = serious_violations(page)
    problems = {path: items for path, items in found.items() if items}
    assert not problems, problems


def test_sign_in_and_out_through_keycloak(
    browser: Any, built_ui: Path, tmp_path: Path, make_realm: Any
) -> None:
    """Authorization Code with PKCE against a real Keycloak: the provider's login form, back to
    the app signed in with the realm's role, the short-lived access token renewed before it runs
    out, and signing out ends the provider's session too."""
    server = LiveServer(tmp_path / "home", DATOFERUM_WEB_ROOT=str(built_ui))
    realm: Realm = make_realm(server.url, token_seconds=20)
    server.env["DATOFERUM_OIDC_ISSUER"] = realm.issuer
    server.start()
    context, page, errors = open_page(browser, server, elsewhere=(realm.keycloak.url,))
    try:
        page.goto("/")
        page.get_by_role("button", name="Sign in with your organization").click()
        page.wait_for_url(f"{realm.issuer}/**")
        page.fill("#username", "paula")
        page.fill("#password", realm.password)
        page.locator("#kc-login").click()
        page.get_by_role("heading", name="Dashboard", level=1).wait_for()
        assert "code=" not in page.url and page.url.startswith(server.url)
        identity = page.evaluate("JSON.parse(sessionStorage.getItem('datoferum.identity'))")
        assert identity == {
            "subject": f"oidc:{realm.user_id('paula')}", "name": "paula", "role": "producer",
        }  # fmt: skip
        # The PKCE secrets of the finished sign-in are gone from the tab.
        assert page.evaluate("sessionStorage.getItem('datoferum.oidc.pending')") is None
        page.get_by_role("menuitem", name="Upload").wait_for()
        first = page.evaluate("sessionStorage.getItem('datoferum.token')")
        for _ in range(30):  # renewed at three quarters of 20 s (the page's CSP forbids eval,
            page.wait_for_timeout(1000)  # so Playwright's wait_for_function cannot be used)
            if page.evaluate("sessionStorage.getItem('datoferum.token')") != first:
                break
        else:
            raise AssertionError("the access token was not renewed in 30 s")
        whoami = page.evaluate(
            """async () => (await fetch('/api/v1/whoami', {headers: {Authorization:
                'Bearer ' + sessionStorage.getItem('datoferum.token')}})).status"""
        )
        assert whoami == 200  # the renewed token is accepted
        page.get_by_label("Profile").click()
        page.get_by_role("menuitem", name="Logout").click()
        page.locator("#token").wait_for()  # back on the login page, via the provider
        page.get_by_role("button", name="Sign in with your organization").click()
        page.locator("#username").wait_for()  # the provider asks again: its session ended
        assert not errors, errors
    finally:
        context.close()
        server.stop()
