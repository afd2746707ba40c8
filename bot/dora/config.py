"""The `[digest]` config section (daily DORA digest)."""

from bot.sections import Section


class DigestSettings(Section):
    """Placeholder until the digest feature lands."""
