"""Security test 8: every form field and API parameter fuzzed (ids, pages, sort keys, unicode,
huge strings): no answer is a 5xx. Every route in the URL map must have been reached, so a new
route cannot escape the fuzz."""
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import create_draft, csrf_token, launch, register

NUMBERS = ["0", "-1", "1", "2", "10000", "10001", "99999999999999999999", "1e3", "1.5", " 1", "0x10",
           "NaN", "inf", "٣", "３", "¹", "", " "]
WORDS = ["signatures", "newest", "closing", "open", "closed", "draft", "SIGNATURES", "../", "%", "_",
         "\\", "' OR 1=1 --", "<script>", "{{7*7}}"]
# Huge strings: at the field limits, far past them, and past the 1 MiB body limit (413).
big = st.one_of(
    st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"), st.sampled_from([121, 255, 5001, 60_000])),
    st.just("x" * 1_100_000),
)
value = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(WORDS), st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=300), big,
)
fields = st.dictionaries(
    st.sampled_from(["email", "display_name", "password", "title", "body", "duration_days", "reason", "details",
                     "note", "responded_on", "kind", "value", "signed_from", "signed_to", "preview", "confirm", "extra"]),
    value, max_size=6,
)
params = st.dictionaries(st.sampled_from(["sort", "page", "q", "state", "x"]), value, max_size=5)
history_params = st.dictionaries(st.sampled_from(["interval", "from", "to"]), st.one_of(
    value, st.sampled_from(["hour", "day", "2026-03-01", "2026-03-01T14:00Z", "2026-02-30", "9999-12-31T23:59"])),
    max_size=3)
segment = st.one_of(st.sampled_from(NUMBERS), st.text(max_size=30), st.sampled_from(["1", "2", "2026-12-01"]))


def _path(template, seg):
    return template.replace("<id>", quote(seg, safe="") or "%20")


# Every route, by template: <id> takes a fuzzed segment; `params` are query strings, `fields` forms.
TEMPLATES = [
    ("GET", "/", params), ("GET", "/api/petitions", params), ("GET", "/my/petitions", params),
    ("GET", "/petitions/<id>", params), ("GET", "/api/petitions/<id>", params),
    ("GET", "/api/petitions/<id>/count", params), ("GET", "/petitions/<id>/edit", params),
    ("GET", "/petitions/<id>/report.csv", params), ("GET", "/api/petitions/<id>/report", params),
    ("GET", "/auth/account", params), ("GET", "/auth/confirm/<id>", params),
    ("POST", "/auth/confirm/resend", fields), ("POST", "/auth/account/email", fields),
    ("GET", "/petitions/<id>/flag", params), ("POST", "/petitions/<id>/flag", fields),
    ("GET", "/moderation", params), ("GET", "/moderation/log", params), ("GET", "/moderation/petitions/<id>", params),
    ("POST", "/moderation/petitions/<id>/take-down", fields), ("POST", "/moderation/petitions/<id>/restore", fields),
    ("POST", "/moderation/petitions/<id>/dismiss", fields), ("POST", "/moderation/petitions/<id>/response", fields),
    ("POST", "/moderation/petitions/<id>/invalidations", fields),
    ("POST", "/auth/register", fields), ("POST", "/auth/login", fields), ("POST", "/auth/logout", fields),
    ("POST", "/petitions/new", fields), ("POST", "/petitions/<id>/edit", fields),
    ("POST", "/petitions/<id>/delete", fields), ("POST", "/petitions/<id>/launch", fields),
    ("POST", "/petitions/<id>/sign", fields),
    ("GET", "/api/petitions/<id>/history", history_params), ("GET", "/api/petitions/<id>/history.csv", history_params),
    ("GET", "/api/exports/daily/<id>.json", params), ("GET", "/api/exports/daily/<id>.csv", params),
    ("GET", "/petitions/<id>/embed", params), ("GET", "/petitions/<id>/unsubscribe/<id>", params), ("POST", "/petitions/<id>/unsubscribe/<id>", fields),
]


@st.composite
def requests(draw):
    method, template, values = draw(st.sampled_from(TEMPLATES))
    path = _path(template, draw(segment))
    if method == "GET":
        return method, template, f"{path}?{urlencode(draw(values))}", None
    return method, template, path, draw(values)


def test_no_fuzzed_request_gets_a_5xx(app, client):
    register(client, "fuzz@example.com", "Fuzz Owner")
    with app.app_context():  # a moderator, so the moderation forms are fuzzed past their gate
        assert app.test_cli_runner().invoke(args=["users", "grant-moderator", "fuzz@example.com"]).exit_code == 0
    create_draft(client)  # petition 1: a draft
    launch(client, create_draft(client, title="An open petition to fuzz"))  # petition 2: open
    token = csrf_token(client, "/petitions/new")
    adapter = app.url_map.bind("localhost")
    reached, statuses = set(), {}

    @settings(max_examples=700, deadline=None, derandomize=True)
    @given(request=requests())
    def fuzz(request):
        method, template, path, data = request
        browser = app.test_client() if path == "/auth/logout" else client  # keep the owner signed in
        if data is not None:
            data = dict(data, csrf_token=token if browser is client else csrf_token(browser))
        response = browser.open(path, method=method, data=data)
        assert response.status_code < 500, (method, path[:200], response.status_code)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        reached.add(adapter.match(_path(template, "2"), method=method)[0])

    fuzz()
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert routes - reached == set(), "routes the fuzz never reached"
    print(f"fuzzed requests by status: {dict(sorted(statuses.items()))}")
