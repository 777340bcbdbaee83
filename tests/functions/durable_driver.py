"""Plays the Durable Functions extension for one orchestration, with simulated time.

The Azure host cannot run here, so this driver does its job: it builds the JSON payload the
extension sends to the Python worker, calls the orchestrator's registered v2 handle through the
worker's OrchestrationTriggerConverter, reads the actions the SDK's replay engine returns,
executes them (activity: run the registered activity function through ActivityTriggerConverter;
timer: wait until simulated time reaches it; retry: a retry timer then a new attempt, as DTFx
does), appends the history events the extension would append, and replays until the
orchestration completes or fails.

Event ids follow the SDK's sequence numbering: every scheduled activity, timer, retry timer and
retry attempt takes the next id. External events are matched by name. Retries are assumed to
run one at a time (the lifecycle orchestration never runs activities in parallel).

On every replay the driver compares the actions the orchestrator produced with the ones it
produced before: a different action at the same position is a non-deterministic orchestrator,
reported as NonDeterminismError (the extension fails such an orchestration the same way).
"""
import json
from datetime import timedelta

from azure.durable_functions.constants import DATETIME_STRING_FORMAT
from azure.functions import _abc
from azure.functions.durable_functions import ActivityTriggerConverter, OrchestrationTriggerConverter
from azure.functions.meta import Datum

# HistoryEventType and ActionType values of the Durable extension.
EXECUTION_STARTED, TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED = 0, 4, 5, 6
TIMER_CREATED, TIMER_FIRED, ORCHESTRATOR_STARTED, ORCHESTRATOR_COMPLETED, EVENT_RAISED = 10, 11, 12, 13, 15
CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY, CREATE_TIMER, WAIT_FOR_EXTERNAL_EVENT = 0, 1, 5, 6
WHEN_ANY, WHEN_ALL = 11, 12

# Azure Storage's limit: timers longer than this are split by the SDK into shorter ones.
MAX_SHORT_TIMER = "6.00:00:00"
LONG_TIMER_INTERVAL = "3.00:00:00"
REPLAY_SCHEMA_V3 = 2


class NonDeterminismError(AssertionError):
    """The orchestrator scheduled different work on replay than it did the first time."""


def _ts(moment):
    return moment.strftime(DATETIME_STRING_FORMAT)


def _flatten(actions):
    for action in actions:
        if action["actionType"] in (WHEN_ANY, WHEN_ALL):
            yield from _flatten(action["compoundActions"])
        else:
            yield action


def _signature(action):
    """What must stay the same for an action across replays."""
    kind = action["actionType"]
    if kind in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):
        return (kind, action["functionName"], action.get("input"))
    if kind == CREATE_TIMER:
        return (kind, action["fireAt"])
    if kind == WAIT_FOR_EXTERNAL_EVENT:
        return (kind, action["externalEventName"])
    return (kind,)


class DurableDriver:
    def __init__(self, orchestrator, activities, start_time, instance_id="test-instance",
                 max_short_timer=MAX_SHORT_TIMER, long_timer_interval=LONG_TIMER_INTERVAL):
        """`orchestrator`: the registered handle (builder.build().get_user_function());
        `activities`: {name: registered activity function}; `start_time`: aware UTC datetime."""
        self.orchestrator = orchestrator
        self.activities = activities
        self.now = start_time
        self.instance_id = instance_id
        self.max_short_timer = max_short_timer
        self.long_timer_interval = long_timer_interval
        self.history = []
        self.input = None
        self.next_id = 0
        self.seen = []  # signatures of the flattened actions handled so far
        self.timers = {}  # pending timer id -> fire time (datetime)
        self.retry_timers = {}  # pending retry timer id -> (action, attempts so far)
        self.ready = []  # events to deliver in the next episode
        self.runnable = []  # (task id, action, attempt) activities to run
        self.status = "Pending"
        self.output = self.error = self.custom_status = None
        self.replays = 0
        self.activity_log = []  # (name, input, "ok" | error text, simulated time)
        self.timer_log = []  # (fire time, simulated time it fired)
        self.cancelled_timers = []  # fire times of timers the orchestrator cancelled

    # -- the public moves ------------------------------------------------------------------
    def start(self, orchestration_input):
        self.input = json.dumps(orchestration_input)
        self.status = "Running"
        self._episode(
            [
                self._event(
                    EXECUTION_STARTED, Name="orchestrator", Input=self.input, Version="",
                    OrchestrationInstance={"InstanceId": self.instance_id},
                )
            ]
        )
        return self

    def raise_event(self, name, data=None):
        assert self.status == "Running", f"orchestration is {self.status}"
        self._episode([self._event(EVENT_RAISED, Name=name, Input=json.dumps(data))])

    def run(self, until=None, max_steps=10_000):
        """Delivers work (activities now, timers as simulated time reaches them) until the
        orchestration ends, or simulated time would pass `until`."""
        for _ in range(max_steps):
            if self.status != "Running":
                return self
            if self.runnable:
                self._run_activity(*self.runnable.pop(0))
                continue
            due = self._next_timer()
            if due is None or (until is not None and due[1] > until):
                if until is not None:
                    self.now = max(self.now, until)
                return self
            self._fire_timer(*due)
        raise AssertionError("orchestration did not settle; is it looping?")

    # -- executing actions ------------------------------------------------------------------
    def _run_activity(self, task_id, action, attempt):
        name = action["functionName"]
        function = self.activities[name]
        argument = ActivityTriggerConverter.decode(Datum(action.get("input"), "json"), trigger_metadata=None)
        try:
            result = function(argument)
        except Exception as exc:  # the worker reports any exception as TaskFailed
            self.activity_log.append((name, argument, f"{type(exc).__name__}: {exc}", self.now))
            events = [self._event(TASK_FAILED, TaskScheduledId=task_id, Reason=str(exc), Details=type(exc).__name__)]
            if action["actionType"] == CALL_ACTIVITY_WITH_RETRY:
                # DTFx waits out a retry timer after every failure, the last one included.
                interval = action["retryOptions"]["firstRetryIntervalInMilliseconds"]
                timer_id = self._take_id()
                fire_at = self.now + timedelta(milliseconds=interval)
                events.append(self._event(TIMER_CREATED, EventId=timer_id, FireAt=_ts(fire_at)))
                self.timers[timer_id] = fire_at
                self.retry_timers[timer_id] = (action, attempt)
            self._episode(events)
            return
        self.activity_log.append((name, argument, "ok", self.now))
        encoded = ActivityTriggerConverter.encode(result, expected_type=None).value
        self._episode([self._event(TASK_COMPLETED, TaskScheduledId=task_id, Result=encoded)])

    def _next_timer(self):
        if not self.timers:
            return None
        timer_id = min(self.timers, key=lambda i: (self.timers[i], i))
        return timer_id, self.timers[timer_id]

    def _fire_timer(self, timer_id, fire_at):
        del self.timers[timer_id]
        self.now = max(self.now, fire_at)
        self.timer_log.append((fire_at, self.now))
        events = [self._event(TIMER_FIRED, TimerId=timer_id, FireAt=_ts(fire_at))]
        retry = self.retry_timers.pop(timer_id, None)
        if retry is not None:
            action, attempts = retry
            if attempts < action["retryOptions"]["maxNumberOfAttempts"]:
                task_id = self._take_id()
                events.append(self._event(TASK_SCHEDULED, EventId=task_id, Name=action["functionName"]))
                self.runnable.append((task_id, action, attempts + 1))
        self._episode(events)

    # -- one episode: new events in, replay, new actions out ------------------------------
    def _episode(self, new_events):
        for event in self.history:
            event["IsPlayed"] = True
        self.history.append(self._event(ORCHESTRATOR_STARTED))
        self.history.extend(new_events)
        state = self._replay()
        self._take_actions(state)
        self.history.append(self._event(ORCHESTRATOR_COMPLETED))
        self.custom_status = state.get("customStatus")
        if state.get("isDone"):
            self.status, self.output = "Completed", state.get("output")
        elif state.get("error"):
            self.status, self.error = "Failed", state["error"]

    def _replay(self):
        self.replays += 1
        payload = {
            "history": self.history,
            "instanceId": self.instance_id,
            "isReplaying": False,
            "parentInstanceId": None,
            "input": self.input,
            "upperSchemaVersion": REPLAY_SCHEMA_V3,
            "maximumShortTimerDuration": self.max_short_timer,
            "longRunningTimerIntervalDuration": self.long_timer_interval,
        }
        context = OrchestrationTriggerConverter.decode(Datum(json.dumps(payload), "json"), trigger_metadata=None)
        assert isinstance(context, _abc.OrchestrationContext)
        try:
            return json.loads(self.orchestrator(context))
        except Exception as exc:  # the orchestrator raised: the SDK appends its state to the message
            message, marker, state = str(exc).partition("$OutOfProcData$:")
            if not marker:
                raise
            state = json.loads(state)
            state["error"] = state.get("error") or message.strip()
            return state

    def _take_actions(self, state):
        actions = list(_flatten(state.get("actions", [[]])[0] if state.get("actions") else []))
        signatures = [_signature(a) for a in actions]
        previous = len(self.seen)
        if signatures[:previous] != self.seen[: len(signatures)] or (
            len(signatures) < previous and not state.get("isDone") and not state.get("error")
        ):
            raise NonDeterminismError(
                f"replay {self.replays} produced {signatures[:previous]!r}, first run produced {self.seen!r}"
            )
        for action in actions:
            if action["actionType"] == CREATE_TIMER and action.get("isCanceled"):
                self._cancel_timer(action)
        scheduled = []
        for action in actions[previous:]:
            self.seen.append(_signature(action))
            kind = action["actionType"]
            if kind in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):
                task_id = self._take_id()
                scheduled.append(self._event(TASK_SCHEDULED, EventId=task_id, Name=action["functionName"]))
                self.runnable.append((task_id, action, 1))
            elif kind == CREATE_TIMER:
                timer_id = self._take_id()
                fire_at = self._parse(action["fireAt"])
                scheduled.append(self._event(TIMER_CREATED, EventId=timer_id, FireAt=action["fireAt"]))
                if not action.get("isCanceled"):
                    self.timers[timer_id] = fire_at
            elif kind != WAIT_FOR_EXTERNAL_EVENT:
                raise NotImplementedError(f"the driver does not play action type {kind}")
        self.history.extend(scheduled)

    def _cancel_timer(self, action):
        fire_at = self._parse(action["fireAt"])
        for timer_id, when in list(self.timers.items()):
            if when == fire_at and timer_id not in self.retry_timers:
                del self.timers[timer_id]
                self.cancelled_timers.append(fire_at)

    # -- helpers -----------------------------------------------------------------------------
    def _take_id(self):
        self.next_id += 1
        return self.next_id - 1

    def _event(self, event_type, EventId=-1, **fields):
        return {"EventType": event_type, "EventId": EventId, "IsPlayed": False, "Timestamp": _ts(self.now), **fields}

    @staticmethod
    def _parse(text):
        from dateutil.parser import isoparse

        return isoparse(text)
