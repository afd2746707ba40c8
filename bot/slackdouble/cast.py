"""Who and what the simulated workspace holds, with ids as Slack issues them.

The tests, the local shell and the benchmarks all meet the same people, groups and channels.
Their ids have the shape of real ones (a kind letter, then upper-case letters and digits; see
``bot.inputs``), with the name written inside so a test still reads as a conversation:
``bell.command("/deploy", "api to production", user=BOB)``, ``f"needs approval from <@{ANA}>"``.
The shell shows names (``@ana``, ``#deploys``), never these ids.
"""

from __future__ import annotations

TEAM = "T0TEAM0001"
SHIPBELL = "U0SHIPBELL"  # the bot user Shipbell's token belongs to
SHIPBELL_BOT = "B0SHIPBELL"

ANA = "U0ANA0001"
BOB = "U0BOB0001"
CARL = "U0CARL001"
DANA = "U0DANA001"
EVE = "U0EVE0001"

ONCALL = "S0ONCALL1"  # carl and dana
LEADS = "S0LEADS01"  # eve

DEPLOYS = "C0DEPLOYS"
GENERAL = "C0GENERAL"
INCIDENTS = "C0INCIDENTS"
RELEASES = "C0RELEASES"
METRICS = "C0METRICS"

PEOPLE = {ANA: "ana", BOB: "bob", CARL: "carl", DANA: "dana", EVE: "eve"}
GROUPS = {ONCALL: ("oncall", [CARL, DANA]), LEADS: ("leads", [EVE])}
CHANNELS = {DEPLOYS: "deploys", GENERAL: "general", INCIDENTS: "incidents",
            RELEASES: "releases", METRICS: "metrics"}
