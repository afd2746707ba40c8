"""Every migration, in order: the foundation's, then each feature's.

Composition, not storage: the store applies whatever list it is given and knows nothing of
the features; this module is where the features' schemas are gathered.
"""

from __future__ import annotations

from shipbell.bot.deploys.schema import MIGRATIONS as DEPLOYS
from shipbell.bot.dora.schema import MIGRATIONS as DORA
from shipbell.bot.incidents.schema import MIGRATIONS as INCIDENTS
from shipbell.bot.releases.schema import MIGRATIONS as RELEASES
from shipbell.bot.storage.migrations import FOUNDATION, Migration


def all_migrations() -> list[Migration]:
    """The foundation's migrations, then each feature's, in a fixed order."""
    return [*FOUNDATION, *DEPLOYS, *INCIDENTS, *RELEASES, *DORA]
