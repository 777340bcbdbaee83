"""Names shared by the lifecycle functions, and the start-or-resume decision for one petition."""
import azure.durable_functions as df

ORCHESTRATOR = "petition_lifecycle"
CLOSE_NOW = "close_now"
CLOSE_PETITION, BUILD_REPORT, NOTIFY_OWNER = "close_petition", "build_report", "notify_owner"

# A live instance is left alone (or nudged); anything else may be started again.
LIVE = {
    df.OrchestrationRuntimeStatus.Running,
    df.OrchestrationRuntimeStatus.Pending,
    df.OrchestrationRuntimeStatus.ContinuedAsNew,
    df.OrchestrationRuntimeStatus.Suspended,
}


def instance_id(petition_id):
    """One orchestration per petition: starting twice finds the first one."""
    return f"petition-{int(petition_id)}"


def orchestration_input(petition):
    from app.domain.petitions import as_utc

    return {"petition_id": petition.id, "closes_at": as_utc(petition.closes_at).isoformat()}


def is_live(status):
    return status is not None and status.runtime_status in LIVE


async def ensure_started(client, petition):
    """Starts the petition's orchestration unless a live one exists. Returns (instance id, started)."""
    iid = instance_id(petition.id)
    if is_live(await client.get_status(iid)):
        return iid, False
    await client.start_new(ORCHESTRATOR, iid, orchestration_input(petition))
    return iid, True


async def ensure_closing(client, petition):
    """The sweep's safety net: a live orchestration is told to close now (a taken-down petition's
    then ends); a missing, failed or terminated one of an open petition is started again (past
    its deadline it goes straight to the close)."""
    iid = instance_id(petition.id)
    if is_live(await client.get_status(iid)):
        await client.raise_event(iid, CLOSE_NOW)
        return "resumed"
    if petition.state == "taken_down":  # nothing to close, and no lifecycle to end
        return "ended"
    await client.start_new(ORCHESTRATOR, iid, orchestration_input(petition))
    return "started"
