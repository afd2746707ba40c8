"""A local, stateful stand-in for Slack: the Web API the app calls and the driver that calls it.

Every test and the local shell run against this instead of slack.com.
"""

from .driver import Ack, SlackDriver
from .server import Call, SlackDouble
from .state import SlackError, Workspace

__all__ = ["Ack", "Call", "SlackDouble", "SlackDriver", "SlackError", "Workspace"]
