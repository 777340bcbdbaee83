"""Activities: each re-reads the petition by id and is safe to run twice."""
import azure.durable_functions as df

from petition_functions import clients, lifecycle

bp = df.Blueprint()


@bp.activity_trigger(input_name="petitionId", activity=lifecycle.CLOSE_PETITION)
def close_petition(petitionId: int) -> dict:
    """Outbox flushed to SQL, signer set reconciled, final count, Closed, out of Redis."""
    with clients.services() as services:
        return services.closing().close(petitionId).to_dict()


@bp.activity_trigger(input_name="petitionId", activity=lifecycle.BUILD_REPORT)
def build_report(petitionId: int) -> dict:
    from app.services.reports import report_dict

    with clients.services() as services:
        report = report_dict(services.reports().build(petitionId))
    # The orchestration history keeps this; the per-day table stays in SQL.
    report.pop("signatures_per_day")
    return report


@bp.activity_trigger(input_name="petitionId", activity=lifecycle.NOTIFY_OWNER)
def notify_owner(petitionId: int) -> dict:
    with clients.services() as services:
        notification = services.notifications().notify_closed(petitionId)
        return {"notification_id": notification.id, "emailed": notification.emailed_at is not None}
