"""The `[incident]` config section."""

from bot.sections import Section


class IncidentSettings(Section):
    """Placeholder until the incident feature lands."""
