"""The log message catalogue: every operator-facing log line is phrased here, once.

Keeping messages in one place keeps them consistent and greppable, and makes sure no
call site interpolates a secret by accident (only ids and names go in).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("shipbell")

SERVING = "Shipbell %s listening on %s"
SOCKET_MODE = "Shipbell %s connected in Socket Mode"
SHUTTING_DOWN = "Shutting down: %d background task(s) still running, waiting up to %.0f s"
SHUTDOWN_LEFT = "Left %d task(s) pending; they resume at next start"
TASK_FAILED = "Background task %s #%s failed (attempt %d)"
TASK_RESUMED = "Resuming %d background task(s) left over from the last run"
TASK_UNKNOWN_KIND = "Task #%s has unknown kind %r; marking it failed"
LISTENER_ERROR = "Error id %s while handling %s"
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
SLACK_CALL_FAILED = "Slack %s failed: %s"
MIGRATED = "Applied migrations: %s (schema version %d)"
DEPLOY_ENDED = "Deploy #%s %s/%s ended %s"
GROUPS_STALE = "Couldn't refresh user groups from Slack; keeping the last known members"
DEPLOY_SECRET_MISSING = (
    "Deploy provider %s: environment variable %s is not set; its deploys fail until it is"
)
DIGEST_CHART_FAILED = "Digest: chart rendering failed for %s; posting without it"


def setup(level: str = "INFO") -> None:
    """One handler, one format; called once by the CLI."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("slack_bolt").setLevel(max(logging.WARNING, logging.getLevelName(level)))
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
