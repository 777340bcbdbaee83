from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user

from app import wiring
from app.blueprints.public import bp
from app.blueprints.public.cache import PageCache
from app.domain.errors import StoreUnavailable
from app.extensions import limiter
from app.services.browsing import parse_list_query


@bp.record_once
def _attach_cache(state):
    config = state.app.config
    state.app.extensions["page_cache"] = PageCache(config["PAGE_CACHE_SECONDS"], config["PAGE_STALE_SECONDS"])


def _page_cache():
    return current_app.extensions["page_cache"]


def _anonymous_view():
    """Nothing personal on the page: no signed-in user and no flashed message waiting."""
    return not current_user.is_authenticated and "_flashes" not in session


def _signer_key():
    if current_user.is_authenticated:
        return f"sign-user:{current_user.id}"
    return f"sign-anon:{get_remote_address()}"


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
        return render_template("public/petition.html", petition=doc, signed=False, stale=True)
    if doc["state"] != "draft":
        cache.put(key, doc)
    return render_template("public/petition.html", petition=doc, signed=signed, stale=False)


@bp.route("/petitions/<pid:petition_id>/sign", methods=["POST"])
@limiter.limit(lambda: current_app.config["SIGN_RATE_LIMIT_IP"])
@limiter.limit(lambda: current_app.config["SIGN_RATE_LIMIT_USER"], key_func=_signer_key)
def sign(petition_id):
    page = url_for("public.petition", petition_id=petition_id)
    if not current_user.is_authenticated:
        flash("Log in or create an account to sign this petition.", "info")
        return redirect(url_for("auth.login", next=page))
    result = wiring.signing().sign(petition_id, current_user.id)
    if result.new:
        count = result.signature_count
        flash(f"Thank you for signing. This petition now has {count:,} signature{'' if count == 1 else 's'}.", "success")
    else:
        flash("You have already signed this petition. Each person can sign once.", "info")
    return redirect(page, code=303)
