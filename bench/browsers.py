"""Signers as the site meets them: accounts registered through /auth/register over HTTP and
confirmed by the link in the mail the site sent, each person's session cookie kept as a browser
keeps it. Nothing is minted in-process; the tokens a signature needs are read off the petition
page each person loads (bench/wrk/pages.lua)."""
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from app.services.mail import read_mail_dir

PASSWORD = "bench-password-long-enough"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) bench"
# The form's hidden field, however its attributes are ordered (WTForms and the templates differ).
CSRF_FIELD = re.compile(r'<input(?=[^>]*\bname="csrf_token")[^>]*\bvalue="([^"]+)"')
CONFIRM_LINK = re.compile(r"https?://\S+/auth/confirm/\S+")
THREADS = 16


@dataclass
class Person:
    number: int  # registered as "Bench Signer <number>"
    session_cookie: str  # as their browser holds it after registering

    def line(self):
        return f"{self.number} {self.session_cookie}\n"


def _new_browser():
    http = requests.Session()
    http.headers.update({"User-Agent": USER_AGENT, "Accept": "text/html", "Accept-Encoding": "gzip"})
    return http


def _field(pattern, page, what):
    match = pattern.search(page)
    if not match:
        raise RuntimeError(f"the page has no {what}: {page[:300]!r}")
    return match.group(1)


def register(site, number):
    """Registers bench-<number>@example.com as a person does: the form page, then its post."""
    with _new_browser() as http:
        return _register(http, site, number)


def _register(http, site, number):
    form = http.get(f"{site}/auth/register", timeout=30)
    form.raise_for_status()
    email = f"bench-{number}@example.com"
    answer = http.post(f"{site}/auth/register", timeout=30, allow_redirects=False, data={
        "csrf_token": _field(CSRF_FIELD, form.text, "CSRF token"),
        "email": email, "display_name": f"Bench Signer {number}", "password": PASSWORD,
    })
    if answer.status_code != 302 or not http.cookies.get("session"):
        raise RuntimeError(f"registering {email} answered {answer.status_code}: {answer.text[:300]!r}")
    return Person(number, http.cookies["session"])


def confirm(site, person, link):
    """Follows the mailed link in the person's browser; returns them with the cookie it set."""
    with _new_browser() as http:
        http.cookies.set("session", person.session_cookie)
        answer = http.get(site + urlsplit(link).path, timeout=30, allow_redirects=False)
        if answer.status_code != 302:
            raise RuntimeError(f"confirming bench-{person.number} answered {answer.status_code}: {answer.text[:300]!r}")
        return Person(person.number, answer.cookies.get("session") or person.session_cookie)


def confirmation_links(mail_dir):
    """{address: the newest confirmation link mailed to it}."""
    links = {}
    for message in read_mail_dir(mail_dir):  # newest first
        if message.to not in links and (link := CONFIRM_LINK.search(message.body)):
            links[message.to] = link.group(0)
    return links


def register_many(site, count, mail_dir):
    """`count` people, each registered and then confirmed by the link mailed to them."""
    with ThreadPoolExecutor(THREADS) as pool:
        people = list(tqdm(pool.map(lambda n: register(site, n), range(count)),
                           total=count, desc="http: registering signers", leave=False))
        links = confirmation_links(mail_dir)
        return list(tqdm(pool.map(lambda p: confirm(site, p, links[f"bench-{p.number}@example.com"]), people),
                         total=count, desc="http: confirming signers", leave=False))
