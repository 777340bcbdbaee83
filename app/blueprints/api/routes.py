"""Anonymous JSON read API. Short public caching plus ETags so a CDN can absorb the watchers."""
from flask import Response, current_app, jsonify, request, url_for

from app.web import wiring
from app.blueprints.api import bp
from app.domain.petitions import thresholds
from app.services.browsing import parse_list_query
from app.services.history import EXPORT_FIELDS, export_csv, history_csv, parse_day, parse_history_query
from app.services.reports import report_dict

LIST_MAX_AGE = 5
COUNT_MAX_AGE = 2
REPORT_MAX_AGE = 86_400
HISTORY_MAX_AGE = 60  # the current hour's count grows; earlier hours only change by a removal
ENDED_HISTORY_MAX_AGE = 3_600
TODAY_EXPORT_MAX_AGE = 300
LIST_FIELDS = ("id", "title", "state", "signature_count", "launched_at", "closes_at")


def _cacheable(payload, max_age):
    return _conditional(jsonify(payload), max_age)


def _cacheable_csv(text, max_age, filename):
    response = Response(text, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return _conditional(response, max_age)


def _conditional(response, max_age):
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.add_etag()
    response = response.make_conditional(request)
    # make_conditional adds a Date, and gunicorn (or Werkzeug's server) sends its own: one is enough.
    del response.headers["Date"]
    return response


def _summary(doc):
    item = {field: doc.get(field) for field in LIST_FIELDS}
    item["url"] = url_for("public.petition", petition_id=doc["id"], _external=True)
    return item


@bp.route("/petitions")
def list_petitions():
    query = parse_list_query(request.args)
    result = wiring.browsing().list(query)
    return _cacheable(
        {
            "data": [_summary(doc) for doc in result.items],
            "meta": {"page": result.page, "page_size": result.page_size, "total": result.total},
        },
        LIST_MAX_AGE,
    )


@bp.route("/petitions/<pid:petition_id>")
def petition(petition_id):
    doc = wiring.browsing().petition(petition_id)
    item = _summary(doc)
    item.update(body=doc["body"], owner=doc["owner_name"], response=doc.get("response"),
                removed_signatures=doc.get("removed_signatures", 0))
    if doc["state"] in ("open", "closed"):
        config = current_app.config
        item["thresholds"] = [
            {k: t[k] for k in ("kind", "signatures", "reached")}
            for t in thresholds(doc["signature_count"], config["RESPONSE_THRESHOLD"], config["DEBATE_THRESHOLD"])
        ]
    if doc["state"] == "taken_down":  # its text is withheld; the moderators' reason is public
        item.update(body=None, taken_down={"at": doc["taken_down_at"], "reason": doc["takedown_reason"]})
    return _cacheable(item, LIST_MAX_AGE)


@bp.route("/petitions/<pid:petition_id>/count")
def count(petition_id):
    signature_count = wiring.browsing().count(petition_id)
    return _cacheable({"id": petition_id, "signature_count": signature_count}, COUNT_MAX_AGE)


@bp.route("/petitions/<pid:petition_id>/report")
def report(petition_id):
    """The closing report. Reports never change once built, so they cache for a day."""
    return _cacheable(report_dict(wiring.reports().get(petition_id)), REPORT_MAX_AGE)


def _history(petition_id):
    series = wiring.history().history(petition_id, parse_history_query(request.args))
    return series, HISTORY_MAX_AGE if series["state"] == "open" else ENDED_HISTORY_MAX_AGE


@bp.route("/petitions/<pid:petition_id>/history")
def history(petition_id):
    """Signatures per hour or per UTC day with running totals, and the milestones reached."""
    series, max_age = _history(petition_id)
    return _cacheable(series, max_age)


@bp.route("/petitions/<pid:petition_id>/history.csv")
def history_download(petition_id):
    series, max_age = _history(petition_id)
    return _cacheable_csv(history_csv(series), max_age, f"petition-{petition_id}-{series['interval']}s.csv")


def _daily_export(day):
    day, history = parse_day(day), wiring.history()
    rows = history.daily_export(day)
    return day, rows, TODAY_EXPORT_MAX_AGE if day == history.clock().date() else REPORT_MAX_AGE


@bp.route("/exports/daily/<day>.json")
def daily_export(day):
    """Every petition signed by the end of a UTC day: its signatures that day and its total."""
    day, rows, max_age = _daily_export(day)
    return _cacheable({"date": day.isoformat(), "data": [dict(zip(EXPORT_FIELDS, row)) for row in rows]}, max_age)


@bp.route("/exports/daily/<day>.csv")
def daily_export_download(day):
    day, rows, max_age = _daily_export(day)
    return _cacheable_csv(export_csv(rows), max_age, f"petitions-{day.isoformat()}.csv")
