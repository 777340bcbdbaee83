"""One real-browser journey: Debian's chromium, driven by Playwright, against the app served by a
werkzeug server thread on the real PostgreSQL and Redis."""
import contextlib
import os
import re
import threading

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from app.repositories.models import Signature
from app.web import wiring
from app.web.extensions import db

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PORTS = range(int(os.environ.get("E2E_PORT_FIRST", 5230)), int(os.environ.get("E2E_PORT_LAST", 5249)) + 1)
SCREENSHOT = os.environ.get("E2E_SCREENSHOT")  # a path to save the petition page to, if wanted
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.e2e


@pytest.fixture
def config(migrated_databases):
    """The test settings with make run's mail viewer, and links named from the request's host
    (the live server's port is only known once it listens)."""
    from config.settings import TestConfig

    config = TestConfig()
    config.DEV_MAIL_VIEWER = True
    config.SITE_ORIGIN = None
    return config


@pytest.fixture
def live_server(app):
    """The test app on 127.0.0.1, on the first free port of the range."""
    server = None
    for port in PORTS:
        with contextlib.suppress(OSError):
            server = make_server("127.0.0.1", port, app, threaded=True)
            break
    if server is None:
        pytest.fail(f"no free port in {PORTS}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is needed for the browser journey (Debian package chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def register(page, base, email, name):
    page.goto(f"{base}/auth/register")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name=f"Sign out ({name})")).to_be_visible()


def confirm_by_mail(page, base, email):
    """Opens the confirmation mail in /dev/mail and follows its link."""
    page.goto(f"{base}/dev/mail")
    page.get_by_role("row").filter(has_text=email).get_by_role("link").first.click()
    page.locator("pre.mail-body a[href*='/auth/confirm/']").click()
    expect(page.get_by_text("Thank you: your email address is confirmed.")).to_be_visible()


def count_on(page):
    return page.locator("#signature-count")


def test_register_create_launch_and_sign_as_two_people(app, live_server, browser):
    base = live_server
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = []  # script errors, CSP refusals, failed loads (the browser's own favicon probe aside)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: "Refused to" in message.text and problems.append(message.text))
    page.on(
        "response",
        lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and problems.append(f"{r.status} {r.url}"),
    )

    # The owner registers and writes a draft; launching waits for the emailed link.
    register(page, base, "olive@example.com", "Olive Owner")
    page.get_by_role("link", name="Start a petition").first.click()
    page.get_by_label("Title").fill("Reopen the riverside footpath")
    page.get_by_label("What do you want and why?").fill("The path has been closed for two years.\nPlease fix it.")
    page.get_by_label("How many days").fill("60")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft: only you can see this")).to_be_visible()
    draft_url = page.url
    expect(page.get_by_role("button", name=re.compile(r"Launch petition"))).to_have_count(0)
    page.get_by_role("button", name="Send the link again").click()
    expect(page.get_by_text("We have sent a new link to olive@example.com")).to_be_visible()
    confirm_by_mail(page, base, "olive@example.com")
    page.goto(draft_url)
    page.get_by_role("button", name=re.compile(r"Launch petition")).click()
    expect(page.get_by_text("Your petition is open.")).to_be_visible()
    petition_url = page.url
    expect(count_on(page)).to_have_text("0")
    page.get_by_role("button", name=re.compile(r"Sign out")).click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    # A visitor sees the open petition on the front page and is asked to log in to sign.
    page.goto(base)
    page.get_by_role("link", name="Reopen the riverside footpath").click()
    expect(page.get_by_role("link", name="Log in to sign")).to_be_visible()

    # A second person registers, confirms the address by the mailed link, and signs.
    register(page, base, "sam@example.com", "Sam Signer")
    page.goto(petition_url)
    expect(page.get_by_role("button", name="Sign this petition")).to_have_count(0)
    expect(page.get_by_text("Confirm your email address to sign")).to_be_visible()
    confirm_by_mail(page, base, "sam@example.com")
    page.goto(petition_url)
    page.get_by_label("Email me once when it closes").check()  # sent by the sign button's script
    page.get_by_role("button", name="Sign this petition").click()
    expect(page.get_by_text("Thank you for signing. This petition now has 1 signature.")).to_be_visible()
    expect(count_on(page)).to_have_text("1")
    expect(page.get_by_text("You signed this petition.")).to_be_visible()
    expect(page.locator("#count-announcement[aria-live=polite]")).to_have_text("1 signature.")  # said at once

    # The owner, in another browser session, signs too and sees 2.
    owner = browser.new_context().new_page()
    owner.goto(f"{base}/auth/login?next={petition_url.removeprefix(base)}")
    owner.get_by_label("Email").fill("olive@example.com")
    owner.get_by_label("Password").fill(PASSWORD)
    owner.get_by_role("button", name="Log in").click()
    expect(owner).to_have_url(petition_url)
    owner.get_by_role("button", name="Sign this petition").click()
    expect(count_on(owner)).to_have_text("2")
    expect(owner.locator("#milestone")).to_have_text("Next milestone: 100 signatures")

    # The signer's page shows the new count on reload, and the front page agrees.
    page.reload()
    expect(count_on(page)).to_have_text("2")
    page.goto(base)
    expect(page.locator(".petition-card .meta strong").first).to_have_text("2")
    assert problems == []
    with app.app_context():  # Sam's opt-in reached SQL with the signature; the owner ticked none
        wiring.persister(consumer="e2e").drain()
        opt_ins = db.session.execute(select(Signature.notify_response, Signature.notify_close)
                                     .order_by(Signature.id)).all()
    assert [tuple(row) for row in opt_ins] == [(False, True), (False, False)]
    if SCREENSHOT:
        owner.screenshot(path=SCREENSHOT, full_page=True)


def test_another_site_can_frame_the_embed_and_nothing_else(app, live_server, browser):
    """A page on another origin puts the embed and the petition page in iframes: the embed shows
    its title and count, the petition page is refused by the browser (frame-ancestors 'none')."""
    from tests.integration.support import make_open, make_user

    petition_id = make_open(app, make_user(app, "framed@example.com"), "Plant trees along the ring road")
    host_page = (f'<iframe id="embed" src="{live_server}/petitions/{petition_id}/embed"></iframe>'
                 f'<iframe id="page" src="{live_server}/petitions/{petition_id}"></iframe>').encode()

    def other_site(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html")])
        return [host_page]

    server = make_server("127.0.0.1", 0, other_site, threaded=True)  # another origin: another port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_context().new_page()
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        embed = page.frame_locator("#embed")
        expect(embed.get_by_role("link", name="Plant trees along the ring road")).to_be_visible()
        expect(embed.locator("#signature-count")).to_have_text("0")
        # The browser refuses to show the petition page there (its error page takes the frame).
        expect(page.frame_locator("#page").get_by_text("Plant trees along the ring road")).to_have_count(0)
    finally:
        server.shutdown()
        thread.join(5)
