"""The `[release]` config section (release trains)."""

from bot.sections import Section


class ReleaseSettings(Section):
    """Placeholder until the release feature lands."""
