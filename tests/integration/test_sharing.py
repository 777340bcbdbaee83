"""Sharing a petition: the embed other sites may frame (and only it), the Open Graph and Twitter
card meta, the canonical URL, the share links and the copy-and-paste snippet."""
import html
import re

import pytest
from markupsafe import escape

from app.domain.petitions import utcnow
from tests.integration.support import Moderator, close_now, make_draft, make_open
from app.web import wiring

SITE = "https://petitions.test"  # TestConfig.SITE_ORIGIN
TITLE = 'Stop the "quiet" <b>road</b> & rail cuts'


@pytest.fixture
def petition(app, owner):
    return make_open(app, owner, TITLE)


def text(response):
    return response.get_data(as_text=True)


def test_the_embed_shows_the_live_count_and_may_be_framed_by_any_site(app, petition):
    with app.app_context():
        wiring.signing().sign(petition, 901)
    response = app.test_client().get(f"/petitions/{petition}/embed")
    page = text(response)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert str(escape(TITLE)) in page and "<b>road</b>" not in page
    assert re.search(r'id="signature-count" data-count-url="/api/petitions/\d+/count">1<', page)
    assert f'href="{SITE}/petitions/{petition}" target="_blank" rel="noopener"' in page
    assert "count.js" in page


def test_every_other_page_still_refuses_to_be_framed(app, petition):
    for path in (f"/petitions/{petition}", "/", f"/petitions/{petition}/flag", "/petitions/999999"):
        response = app.test_client().get(path)
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


def test_no_embed_for_a_draft_or_a_missing_petition_and_a_plain_one_when_closed(app, owner, petition):
    draft = make_draft(app, owner, "A draft nobody may embed yet")
    assert app.test_client().get(f"/petitions/{draft}/embed").status_code == 404
    assert app.test_client().get("/petitions/999999/embed").status_code == 404
    close_now(app, petition, utcnow(), 12)
    page = text(app.test_client().get(f"/petitions/{petition}/embed"))
    assert 'data-count-url=""' in page and "(closed)" in page and "See the petition" in page
    assert "count.js" not in page


def test_a_taken_down_petitions_embed_says_so_and_shows_no_count(app, petition):
    with app.app_context():
        wiring.moderation().take_down(petition, Moderator(), "It names and insults a private person.")
    page = text(app.test_client().get(f"/petitions/{petition}/embed"))
    assert "took this petition down" in page and "signature-count" not in page


def test_the_page_has_canonical_open_graph_and_twitter_meta_escaped(app, petition):
    page = text(app.test_client().get(f"/petitions/{petition}"))
    escaped = str(escape(TITLE))
    assert f'<link rel="canonical" href="{SITE}/petitions/{petition}">' in page
    assert f'<meta property="og:title" content="{escaped}">' in page
    assert f'<meta name="twitter:title" content="{escaped}">' in page
    assert f'<meta property="og:url" content="{SITE}/petitions/{petition}">' in page
    assert '<meta name="twitter:card" content="summary">' in page
    assert re.search(r'<meta property="og:description" content="[^"<>]+">', page)


def test_a_draft_page_is_not_indexed_and_has_no_sharing(app, owner, client):
    from tests.helpers import create_draft, register

    register(client, "drafter@example.com", "Dee Drafter")
    draft = create_draft(client)
    page = text(client.get(f"/petitions/{draft}"))
    assert '<meta name="robots" content="noindex">' in page and "og:title" not in page
    assert "Share this petition" not in page


def test_share_links_and_the_embed_snippet(app, petition):
    page = text(app.test_client().get(f"/petitions/{petition}"))
    url = f"{SITE}/petitions/{petition}"
    encoded = "https%3A%2F%2Fpetitions.test%2Fpetitions%2F" + str(petition)
    for network in ("https://twitter.com/intent/tweet?", "https://www.facebook.com/sharer/sharer.php?u=" + encoded,
                    "https://wa.me/?text=", "https://www.linkedin.com/sharing/share-offsite/?url=" + encoded, "mailto:?"):
        assert network in page, network
    assert 'rel="noopener" target="_blank"' in page
    snippet = re.search(r'<textarea id="embed-code"[^>]*>([^<]*)</textarea>', page).group(1)
    iframe = html.unescape(snippet)
    assert iframe.startswith(f'<iframe src="{url}/embed" title="{escape(TITLE)}" width=')  # safe to paste
