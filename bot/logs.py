"""The log message catalogue: every operator-facing log line is phrased here, once.

Keeping messages in one place keeps them consistent and greppable, and makes sure no
call site interpolates a secret by accident (only ids and names go in).
"""

from __future__ import annotations

import logging
import re
import socket

import aiohttp
from slack_sdk.errors import SlackApiError

logger = logging.getLogger("shipbell")

# Failures of the outside world (Slack said no, the network is down, a call timed out) are
# expected and retried: their log line says what happened, with no traceback unless the
# logger is at DEBUG. Anything else is a bug in Shipbell and keeps its traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    SlackApiError, aiohttp.ClientError, TimeoutError, ConnectionError, socket.gaierror,
)

SERVING = "Shipbell %s listening on %s"
SOCKET_MODE = "Shipbell %s connected in Socket Mode"
SOCKET_HTTP = "Shipbell %s serving /healthz, /metrics and /hooks on %s (Slack: Socket Mode)"
SHUTTING_DOWN = "Shutting down: %d background task(s) still running, waiting up to %.0f s"
SHUTDOWN_LEFT = "Left %d task(s) pending; they resume at next start"
LEASES_NOT_HANDED_BACK = ("Couldn't hand back this replica's task leases (%s); the other replicas"
                          " take its work over when they run out, within %d s")
TASK_FAILED = "Background task %s #%s failed (attempt %d)"
TASK_RESUMED = "Resuming %d background task(s) no replica holds (left by a stop or a crash)"
TASK_UNKNOWN_KIND = "Task #%s has unknown kind %r; marking it failed"
TASK_TAKEN_OVER = "Took over task %s #%s from replica %s (its lease ran out at %s)"
TASK_LEASE_LOST = "Lost the lease of task %s #%s to another replica; stopped running it here"
LEASE_WAITING = "Waiting for lease %s, held by replica %s"
TASK_UPKEEP_FAILED = "Renewing task leases failed; retrying at the next beat"
LISTENER_ERROR = "Error id %s while handling %s"
STORE_UNAVAILABLE = "Database unreachable while handling %s (%s); answered that nothing changed"
EVENT_DUPLICATE = "Event %s already handled (retry %s); acknowledged and skipped"
MALFORMED_REQUEST = "Refused a malformed Slack request (400): %s"
UNVERIFIED_ERROR = "Refused an unverified request that reached Bolt (%s); nothing was sent"
CLIENT_GONE = "Client %s went away mid-body; nothing was read"
EVENTS_RATE_LIMITED = (
    "Slack is rate-limiting event deliveries to Shipbell (minute %s); some events are dropped"
)
AUTH_TEST_FAILED = "auth.test failed: %s"
AUTH_TEST_OK = "Authenticated to Slack as %s in team %s"
SCHEDULED_RUN = "Scheduled run %s at %s: %s"
SCHEDULED_MISSED = "Scheduled run %s at %s missed by %s, beyond the grace window; not posted"
SCHEDULED_FAILED = "Scheduled run %s at %s failed"
SCHEDULED_NOT_RERUN = "Scheduled run %s at %s was interrupted; not run again: %s"
SLACK_CALL_FAILED = "Slack %s failed: %s"
DEPLOY_ENDED = "Deploy #%s %s/%s ended %s"
GROUPS_STALE = "Couldn't refresh user groups from Slack; keeping the last known members"
DEPLOY_SECRET_MISSING = (
    "Deploy provider %s: environment variable %s is not set; its deploys fail until it is"
)
DIGEST_CHART_FAILED = "Digest: chart rendering failed for %s; posting without it"


SOCKET_CONNECTING = "Socket Mode: connecting to Slack"
SOCKET_RETRY = "Socket Mode: can't connect (%s); retrying in %.0f s"
SOCKET_REFUSED = (
    "Socket Mode: Slack refused SLACK_APP_TOKEN (%s); check it is the app-level token "
    "(xapp-…) with connections:write from the app's Basic Information page, then start again"
)
LISTEN_FAILED = "Can't listen on %s:%s (%s); set [server] host/port to a free address"
START_STEP_FAILED = "Start-up step %s failed; Shipbell keeps running without it"
STOP_REQUESTED = "Stopping (%s)"
STOP_FORCED = "Second %s: stopping now; unfinished background tasks resume at next start"

# Libraries that narrate routine work at INFO (APScheduler: twenty lines at start and one
# per run; slack_sdk: every retried connection). Their warnings still show.
CHATTY = ("apscheduler", "slack_sdk", "slack_bolt", "shipbell.socket")


_QUERY = re.compile(r"(\w+://[^\s'\"?]+)\?[^\s'\"]*")


def describe(exc: BaseException) -> str:
    """One line for an exception: Slack's error code, or the type and first line."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered {exc.response.get('error', 'an error')}"
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    # A URL's query may carry a credential (Socket Mode's one-time ticket): keep it out.
    first = _QUERY.sub(r"\1?…", text[0])
    return f"{type(exc).__name__}: {first[:200]}"


class OneLine(logging.Filter):
    """Folds an expected error into its log line instead of a traceback (kept at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, EXPECTED_ERRORS) and not logging.getLogger(
            record.name).isEnabledFor(logging.DEBUG):
            record.msg = f"{record.getMessage()}: {describe(exc)}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True


def child(name: str) -> logging.Logger:
    """A ``shipbell.<name>`` logger (for a library to log through) with the same policy."""
    log = logging.getLogger(f"shipbell.{name}")
    if not any(isinstance(f, OneLine) for f in log.filters):
        log.addFilter(OneLine())
    return log


logger.addFilter(OneLine())


def setup(level: str = "INFO") -> None:
    """One handler, one format; called once by the CLI."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet = max(logging.WARNING, logging.getLevelName(level))
    for name in CHATTY:
        logging.getLogger(name).setLevel(quiet)
INCIDENT_CHANNEL_ADOPTED = (
    "Incident: channel #%s (%s) was created by an attempt that stopped before storing it; adopted"
)
SCHEDULED_NOTICE_FAILED = "Scheduled: telling the channel about %d missed runs failed"
RELEASE_CAPTAINS_STALE = (
    "Releases: could not check captains' accounts with Slack; keeping what was known"
)
DIGEST_NOT_POSTED = (
    "Digest: %s not posted to %s (Slack refused it, see above); it stays stored, and "
    "`shipbell digest --as-of %s` prints it"
)
DEPLOY_EXPIRED = "Deploy #%s %s/%s expired unstarted: %s"
DEPLOY_REHOMED = "Deploy #%s: can't post in %s, its message moves to the requester's DM"
MESSAGE_ADOPTED = (
    "%s: its message in %s (ts %s) was posted by an attempt that stopped before storing it; adopted"
)
