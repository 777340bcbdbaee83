"""The closing report: computed once from the SQL signatures of a closed petition."""
import csv
import io
from datetime import timedelta

from app.domain.errors import InvalidTransition, NotFound
from app.domain.petitions import PetitionState, as_utc, iso_utc, next_milestone
from app.repositories.models import Report


def compute_report(petition, signed_times):
    """Final count, signatures per UTC day (launch day to close day, zero days included), when
    each milestone was reached and the first and last signature times. `signed_times` must be
    in ascending order; it is read once, so a large petition is streamed."""
    per_day, milestones = {}, []
    count, first, last = 0, None, None
    target = next_milestone(0)
    for moment in signed_times:
        moment = as_utc(moment)
        count += 1
        first = first or moment
        last = moment
        day = moment.date().isoformat()
        per_day[day] = per_day.get(day, 0) + 1
        if count == target:
            milestones.append([target, moment.isoformat()])
            target = next_milestone(count)
    start = as_utc(petition.launched_at).date()
    end = as_utc(petition.closed_at or petition.closes_at).date()
    if last is not None:
        end = max(end, last.date())
    days, day = [], start
    while day <= end:
        days.append([day.isoformat(), per_day.get(day.isoformat(), 0)])
        day += timedelta(days=1)
    return {
        "final_count": count,
        "first_signature_at": first,
        "last_signature_at": last,
        "per_day": days,
        "milestones": milestones,
    }


class ReportService:
    def __init__(self, session, petitions, signatures, reports):
        self.session = session
        self.petitions = petitions
        self.signatures = signatures
        self.reports = reports

    def build(self, petition_id):
        """Stores the report of a closed petition; a second call returns the stored one."""
        existing = self.reports.get(petition_id)
        if existing is not None:
            return existing
        petition = self.petitions.get(petition_id)
        if petition is None:
            raise NotFound("No such petition.")
        if petition.state != PetitionState.CLOSED.value:
            raise InvalidTransition("A report is built only once the petition has closed.")
        values = compute_report(petition, self.signatures.signed_times(petition_id))
        report = self.reports.add(Report(petition_id=petition_id, **values))
        self.session.commit()
        return report

    def get(self, petition_id):
        report = self.reports.get(petition_id)
        if report is None:
            raise NotFound("This petition has no closing report yet: reports appear once it closes.")
        return report


def report_dict(report):
    return {
        "petition_id": report.petition_id,
        "final_count": report.final_count,
        "first_signature_at": iso_utc(report.first_signature_at),
        "last_signature_at": iso_utc(report.last_signature_at),
        "signatures_per_day": [{"date": d, "signatures": n} for d, n in report.per_day],
        "milestones": [{"signatures": m, "reached_at": at} for m, at in report.milestones],
        "created_at": iso_utc(report.created_at),
    }


def report_csv(report):
    """Signatures per day as CSV, with a running total and the milestones reached that day
    (their exact times are in the JSON report)."""
    reached_on = {}
    for milestone, at in report.milestones:
        reached_on.setdefault(at[:10], []).append(str(milestone))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "signatures", "total", "milestones_reached"])
    total = 0
    for day, n in report.per_day:
        total += n
        writer.writerow([day, n, total, " ".join(reached_on.get(day, []))])
    return out.getvalue()


CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 200, 30


def report_chart(report):
    return bar_chart(report.per_day, "day")


def bar_chart(points, period):
    """Geometry for a server-rendered SVG bar chart: a bar for each (label, signatures) point,
    `period` ("day" or "hour") being what one bar covers."""
    peak = max((n for _, n in points), default=0)
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    slot = inner_w / max(1, len(points))
    bars = []
    for index, (label, n) in enumerate(points):
        height = 0 if peak == 0 else round(inner_h * n / peak, 2)
        bars.append(
            {
                "x": round(CHART_PAD + index * slot + slot * 0.1, 2),
                "y": round(CHART_PAD + inner_h - height, 2),
                "width": round(max(slot * 0.8, 0.5), 2),
                "height": height,
                "label": f"{label}: {n:,} signature{'' if n == 1 else 's'}",
            }
        )
    return {
        "period": period,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "baseline": CHART_PAD + inner_h,
        "peak": peak,
        "bars": bars,
        "first_label": points[0][0] if points else "",
        "last_label": points[-1][0] if points else "",
    }
