"""The `[deploy]` config section (services, environments, gates)."""

from bot.sections import Section


class DeploySettings(Section):
    """Placeholder until the deploy feature lands."""
