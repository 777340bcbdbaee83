"""Signatures over time: a petition's hourly counts (signature_hours) as a series by hour or by
day, with its milestones, and the daily export of every petition's counts."""
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from app.domain.errors import InvalidInput, NotFound
from app.domain.petitions import PetitionState, as_utc, next_milestone, utcnow
from app.repositories.history_sql import hour_of
from app.services.reports import bar_chart

STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
LABELS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d"}
CHART_MAX_HOURS = 48  # beyond, the page's chart shows days
MAX_MOMENT_LENGTH = 40


@dataclass(frozen=True)
class HistoryQuery:
    interval: str = "hour"
    start: datetime | None = None  # `from`: periods starting at or after it
    end: datetime | None = None  # `to`: periods starting before it


@dataclass(frozen=True)
class OpenLifetime:
    """What a series needs of an open petition, from its Redis document (the page reads no
    petition row from SQL); a Petition row serves for any state."""
    id: int
    launched_at: datetime
    state: str = "open"
    closed_at: None = None
    taken_down_at: None = None

    @classmethod
    def of(cls, doc):
        return cls(doc["id"], datetime.fromisoformat(doc["launched_at"]))


def parse_moment(name, text):
    """An ISO 8601 date or date and time; without an offset it is UTC."""
    try:
        if len(text) > MAX_MOMENT_LENGTH:
            raise ValueError
        moment = as_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # OverflowError: an offset taking it past year 1 or 9999
        raise InvalidInput(f"{name} must be an ISO 8601 date or time, such as 2026-03-01 or 2026-03-01T14:00Z.") from None
    return moment


def parse_history_query(args):
    """Validates ?interval=hour|day&from=...&to=...; bad values raise InvalidInput (400)."""
    interval = args.get("interval") or "hour"
    if interval not in STEPS:
        raise InvalidInput("interval must be hour or day.")
    start = parse_moment("from", args["from"]) if args.get("from") else None
    end = parse_moment("to", args["to"]) if args.get("to") else None
    if start and end and start >= end:
        raise InvalidInput("from must be before to.")
    return HistoryQuery(interval, start, end)


def parse_day(text):
    """A UTC day as YYYY-MM-DD, for the daily export."""
    try:
        if len(text) != 10:  # fromisoformat also takes 20260301
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("The day must be a date written YYYY-MM-DD, such as 2026-03-01.") from None


def period_start(moment, interval):
    start = hour_of(moment)
    return start.replace(hour=0) if interval == "day" else start


def history_series(petition, hours, query, now):
    """The petition's signatures per period of `query.interval` (zero periods included) from its
    launch, or `from`, to its close, or now, or `to`; each with the running total. `hours` is
    every (hour, signatures) of the petition, oldest first. Milestones come from the whole
    history, whatever the window."""
    interval, step = query.interval, STEPS[query.interval]
    per_period = {}
    for hour, n in hours:
        key = period_start(hour, interval)
        per_period[key] = per_period.get(key, 0) + n
    first = period_start(petition.launched_at, interval)
    last_moment = as_utc(petition.closed_at or petition.taken_down_at or now)
    if hours:  # a signer reconciled at the close counts in the closing hour
        last_moment = max(last_moment, hours[-1][0])
    last = period_start(last_moment, interval)
    if query.start:
        first = max(first, period_start(query.start, interval))
    if query.end and query.end <= first:
        last = first - step  # the window ends before the petition began: no periods
    elif query.end:
        last = min(last, period_start(query.end - timedelta(microseconds=1), interval))
    total = sum(n for key, n in per_period.items() if key < first)
    points, moment = [], first
    while moment <= last:
        n = per_period.get(moment, 0)
        total += n
        points.append({"start": moment.isoformat(), "signatures": n, "total": total})
        moment += step
    return {
        "petition_id": petition.id,
        "state": petition.state,
        "interval": interval,
        "from": first.isoformat(),
        "to": (last + step).isoformat() if points else first.isoformat(),
        "signature_count": sum(n for _, n in hours),
        "data": points,
        "milestones": milestones(hours),
    }


def milestones(hours):
    """[{"signatures": 100, "hour": ...}, ...]: the hour in which each of 100, 1,000, 10,000 ...
    signatures was reached (the exact times of a closed petition are in its closing report)."""
    reached, total, target = [], 0, next_milestone(0)
    for hour, n in hours:
        total += n
        while total >= target:
            reached.append({"signatures": target, "hour": hour.isoformat()})
            target = next_milestone(target)
    return reached


def history_csv(series):
    return _csv(("start", "signatures", "total"), ((p["start"], p["signatures"], p["total"]) for p in series["data"]))


EXPORT_FIELDS = ("petition_id", "title", "state", "signatures", "total")


def export_csv(rows):
    return _csv(EXPORT_FIELDS, rows)


def _csv(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


class HistoryService:
    def __init__(self, petitions, hours, clock=utcnow):
        self.petitions = petitions
        self.hours = hours
        self.clock = clock

    def history(self, petition_id, query=HistoryQuery()):
        petition = self._petition(petition_id)
        return history_series(petition, self.hours.all_hours(petition_id), query, self.clock())

    def chart_series(self, petition):
        """What the petition page shows of `petition` (an OpenLifetime): hourly for its first
        two days, daily after that, as {"series": history_series(...), "chart": bar_chart(...)}.
        One query."""
        hours, now = self.hours.all_hours(petition.id), self.clock()
        series = history_series(petition, hours, HistoryQuery("hour"), now)
        if len(series["data"]) > CHART_MAX_HOURS:
            series = history_series(petition, hours, HistoryQuery("day"), now)
        label = LABELS[series["interval"]]
        points = [(f"{datetime.fromisoformat(p['start']):{label}}", p["signatures"]) for p in series["data"]]
        return {"series": series, "chart": bar_chart(points, series["interval"])}

    def _petition(self, petition_id):
        petition = self.petitions.get(petition_id)
        if petition is None or petition.state == PetitionState.DRAFT.value:
            raise NotFound("No such petition.")
        return petition

    def daily_export(self, day):
        """[(petition_id, title, state now, signatures that UTC day, total at its end)] of every
        petition signed by the end of `day`."""
        if day > self.clock().date():
            raise InvalidInput("That day has not begun yet: the export covers today and earlier days.")
        return self.hours.day_export(datetime.combine(day, datetime.min.time(), timezone.utc))
