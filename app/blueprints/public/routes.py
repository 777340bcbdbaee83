import logging

from flask import Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from app.web import wiring
from app.blueprints.public import bp
from app.blueprints.public.cache import PageCache
from app.blueprints.public.forms import ReportForm, SignForm, UnsubscribeForm
from app.domain.emails import domain_of
from app.domain.errors import AlreadyReported, InvalidInput, LinkNotValid, NotFound, StoreUnavailable
from app.domain.signers import notify_flags
from app.web.auth_session import require_confirmed_email
from app.web.extensions import db, limiter
from app.web.form_errors import apply_field_errors
from app.services.browsing import parse_list_query
from app.services.history import OpenLifetime
from app.services.reports import report_chart, report_csv
from app.services.signing import thank_you

log = logging.getLogger(__name__)
HISTORY_CACHE_SECONDS = 10


@bp.record_once
def _attach_cache(state):
    config = state.app.config
    state.app.extensions["page_cache"] = PageCache(config["PAGE_CACHE_SECONDS"], config["PAGE_STALE_SECONDS"])
    # The hours change once a persister batch lands; a page may show them up to this old.
    state.app.extensions["history_cache"] = PageCache(HISTORY_CACHE_SECONDS, 0)


def _page_cache():
    return current_app.extensions["page_cache"]


def _history_chart(doc):
    """The open petition's signatures over time, or None while SQL cannot be read: the page
    itself is read from Redis and still shows. Cached per process for HISTORY_CACHE_SECONDS,
    so however many read the page, SQL sees one query per petition in that time."""
    cache, petition_id = current_app.extensions["history_cache"], doc["id"]
    if (history := cache.fresh_data(petition_id)) is None:
        try:
            history = wiring.history().chart_series(OpenLifetime.of(doc))
        except SQLAlchemyError:
            log.warning("petition %s: signatures over time not shown, SQL unavailable", petition_id, exc_info=True)
            db.session.rollback()
            return None
        cache.put(petition_id, history)
    return history


def _anonymous_view():
    """Nothing personal on the page: no signed-in user and no flashed message waiting."""
    return not current_user.is_authenticated and "_flashes" not in session


@bp.route("/")
def index():
    query = parse_list_query(request.args)
    cache, key, anonymous = _page_cache(), ("index", query), _anonymous_view()
    if anonymous and (html := cache.fresh_html(key)) is not None:
        return html
    try:
        result = wiring.browsing().list(query)
    except StoreUnavailable:
        if (result := cache.stale_data(key)) is None:
            raise
        return render_template("public/index.html", result=result, query=query, stale=True)
    html = render_template("public/index.html", result=result, query=query, stale=False)
    cache.put(key, result, html if anonymous else None)
    return html


@bp.route("/petitions/<pid:petition_id>")
def petition(petition_id):
    viewer_id = current_user.id if current_user.is_authenticated else None
    browsing, cache, key = wiring.browsing(), _page_cache(), ("petition", petition_id)
    try:
        doc = browsing.petition(petition_id, viewer_id)
        signed = viewer_id is not None and doc["state"] == "open" and browsing.has_signed(petition_id, viewer_id)
    except StoreUnavailable:
        if (doc := cache.stale_data(key)) is None:
            raise
        return render_template("public/petition.html", petition=doc, signed=False, stale=True, opt_ins=_opt_in_boxes(),
                               page_url=site_url("public.petition", petition_id=petition_id),
                               embed_url=site_url("public.embed", petition_id=petition_id))
    if doc["state"] != "draft":
        cache.put(key, doc)
    report = chart = history = None
    if doc["state"] == "open":
        history = _history_chart(doc)
    elif doc["state"] == "closed":
        try:
            report = wiring.reports().get(petition_id)
            chart = report_chart(report)
        except NotFound:
            pass  # closed moments ago; the report follows
    return render_template(
        "public/petition.html",
        petition=doc,
        signed=signed,
        stale=False,
        report=report,
        chart=chart,
        history=history,
        sign_via=_signing_endpoint(petition_id, viewer_id, doc, signed),
        opt_ins=_opt_in_boxes(),
        page_url=site_url("public.petition", petition_id=petition_id),
        embed_url=site_url("public.embed", petition_id=petition_id),
        stream_url=_count_stream(petition_id),
        # Only someone who has signed is thanked: the query alone proves nothing.
        thanks=thank_you(request.args.get("signed"), doc["signature_count"]) if signed else None,
    )


@bp.route("/petitions/<pid:petition_id>/embed")
def embed(petition_id):
    """A petition's title, live count and link, for an <iframe> on other sites (the one view
    they may frame). The same for everyone, so it reads no session and nginx caches it."""
    doc = wiring.browsing().petition(petition_id, None)  # a draft is a 404 to anyone here
    return render_template("public/embed.html", petition=doc, page_url=site_url("public.petition", petition_id=petition_id),
                           stream_url=_count_stream(petition_id))


def _count_stream(petition_id):
    """The pushed-count stream nginx serves (deploy/nginx.conf.template), where the site has
    one: COUNT_PUBLISH_URL says the count publisher and nchan are there."""
    if not current_app.config["COUNT_PUBLISH_URL"]:
        return None
    return f"{request.script_root}/api/petitions/{petition_id}/count/stream"


def site_url(endpoint, **values):
    """An absolute URL on SITE_ORIGIN (the request's host only where none is set, as in tests),
    for links that leave the site: canonical, sharing and embed snippets."""
    origin = current_app.config["SITE_ORIGIN"] or request.host_url.rstrip("/")
    return origin + url_for(endpoint, **values)


def _opt_in_boxes():
    """The sign form's opt-in checkboxes for the page to render. CSRF off: the page renders its
    own token, and making one here would give every anonymous reader a session."""
    return SignForm(formdata=None, meta={"csrf": False})


def _signing_endpoint(petition_id, viewer_id, doc, signed):
    """Where the sign button's script signs, with the signing token for this viewer and this
    petition: the site's own signing endpoint, or the Functions app's in functions mode."""
    config = current_app.config
    if viewer_id is None or doc["state"] != "open" or signed or not current_user.email_confirmed:
        return None
    path = f"/api/petitions/{petition_id}/signatures"
    if config["SIGNING_BACKEND"] == "functions":
        url = f"{config['FUNCTIONS_BASE_URL']}{path}?code={config['FUNCTIONS_SIGN_KEY']}"
    else:
        url = request.script_root + path
    token = wiring.signing_tokens().sign_token(viewer_id, petition_id, confirmed=True,
                                               email_domain=domain_of(current_user.email))
    return {"url": url, "token": token}


@bp.route("/petitions/<pid:petition_id>/report.csv")
def report_download(petition_id):
    report = wiring.reports().get(petition_id)
    return Response(
        report_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="petition-{petition_id}-report.csv"'},
    )


def _anonymous_signer_key():
    return f"sign-anon:{get_remote_address()}"


@bp.route("/petitions/<pid:petition_id>/sign", methods=["POST"])
# Signed-in attempts are counted by the signing script itself (SignLimits, shared with the
# signing endpoint and the Functions app); this only throttles posts from people not signed in.
@limiter.limit(
    lambda: current_app.config["SIGN_RATE_LIMIT_USER"],
    key_func=_anonymous_signer_key,
    exempt_when=lambda: current_user.is_authenticated,
)
def sign(petition_id):
    if not current_user.is_authenticated:
        flash("Log in or create an account to sign this petition.", "info")
        return redirect(url_for("auth.login", next=url_for("public.petition", petition_id=petition_id)))
    require_confirmed_email()
    form = SignForm()  # CSRFProtect has checked its token; the opt-ins are two checkboxes
    notify = notify_flags(form.notify_response.data, form.notify_close.data)
    result = wiring.signing().sign(petition_id, current_user.id, request.remote_addr, current_user.email, notify)
    return redirect(url_for("public.petition", petition_id=petition_id, signed=result.outcome), code=303)


@bp.route("/petitions/<pid:petition_id>/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(petition_id, token):
    """The link in every petition email: no more mail about this petition to this person.
    No sign-in needed (the signed link names them); the change itself is a CSRF-checked POST."""
    service = wiring.unsubscriptions()
    try:
        petition, user_id = service.recipient(petition_id, token)
    except LinkNotValid as error:
        return render_template("public/unsubscribe.html", petition=None, error=error.message), 400
    form = UnsubscribeForm()
    done = form.validate_on_submit()
    if done:
        service.unsubscribe(petition_id, user_id)
    return render_template("public/unsubscribe.html", petition=petition, form=form, done=done)


def _reporter_key():
    return f"report-user:{current_user.id}"


@bp.route("/petitions/<pid:petition_id>/flag", methods=["GET", "POST"])
@login_required
@limiter.limit(lambda: current_app.config["REPORT_RATE_LIMIT"], methods=["POST"], key_func=_reporter_key)
def flag(petition_id):
    """"Report this petition": one open report per person per petition, for the moderators."""
    require_confirmed_email("Confirm your email address to report a petition: open the link we emailed you.")
    doc = wiring.browsing().petition(petition_id, current_user.id)
    if doc["state"] != "open":
        raise NotFound("Only open petitions can be reported.")
    form = ReportForm()
    if form.validate_on_submit():
        try:
            wiring.moderation().report(petition_id, current_user.id, form.reason.data, form.details.data)
        except InvalidInput as error:
            apply_field_errors(form, error)
        except AlreadyReported as error:
            flash(error.message, "info")
            return redirect(url_for("public.petition", petition_id=petition_id), code=303)
        else:
            flash("Thank you. Our moderators will look at this petition.", "success")
            return redirect(url_for("public.petition", petition_id=petition_id), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("public/flag.html", petition=doc, form=form), status
