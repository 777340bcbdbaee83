"""The lifecycle orchestration: wait for the deadline or close_now, then close, report, notify
(or, for a petition a moderator took down, end after the close step finds it so).

Deterministic: only yields, durable timers and current_utc_datetime; logs only when not replaying.
"""
import logging
from datetime import datetime

import azure.durable_functions as df

from petition_functions import lifecycle

log = logging.getLogger(__name__)
bp = df.Blueprint()

# Up to five attempts, 30 s apart at first, for each idempotent activity.
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=5)


@bp.orchestration_trigger(context_name="context", orchestration=lifecycle.ORCHESTRATOR)
def petition_lifecycle(context: df.DurableOrchestrationContext):
    data = context.get_input()
    petition_id = int(data["petition_id"])
    closes_at = datetime.fromisoformat(data["closes_at"])

    reason = "deadline"
    if closes_at > context.current_utc_datetime:
        context.set_custom_status({"stage": "open", "closes_at": closes_at.isoformat()})
        # The SDK splits a deadline beyond the backend's longest timer into several timers.
        deadline = context.create_timer(closes_at)
        close_now = context.wait_for_external_event(lifecycle.CLOSE_NOW)
        winner = yield context.task_any([deadline, close_now])
        if winner is close_now:
            deadline.cancel()
            reason = "close_now"
    else:
        reason = "overdue"
    if not context.is_replaying:
        log.info("petition %s: closing (%s)", petition_id, reason)

    context.set_custom_status({"stage": "closing", "reason": reason})
    closed = yield context.call_activity_with_retry(lifecycle.CLOSE_PETITION, RETRY, petition_id)
    if closed.get("taken_down"):  # a moderator took it down: nothing to report or tell
        context.set_custom_status({"stage": "done", "reason": "taken_down"})
        return {"petition_id": petition_id, "reason": "taken_down", "closed": closed, "report": None}
    context.set_custom_status({"stage": "reporting", "reason": reason})
    report = yield context.call_activity_with_retry(lifecycle.BUILD_REPORT, RETRY, petition_id)
    context.set_custom_status({"stage": "notifying", "reason": reason})
    yield context.call_activity_with_retry(lifecycle.NOTIFY_OWNER, RETRY, petition_id)
    context.set_custom_status({"stage": "done", "reason": reason})
    if not context.is_replaying:
        log.info("petition %s: closed with %s signatures", petition_id, closed["signature_count"])
    return {"petition_id": petition_id, "reason": reason, "closed": closed, "report": report}
