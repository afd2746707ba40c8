"""Block Kit limits hold for the largest digest the config allows."""

from __future__ import annotations

from pathlib import Path

from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.schema import all_migrations
from shipbell.bot.slackdouble.blockkit import total_text_length, validate_blocks
from shipbell.bot.slackdouble.cast import ANA
from shipbell.bot.storage import Store
from shipbell.handlers.digest import messages
from test_digest_reference import PARIS, POSTED, deploy, followup, incident


def test_a_huge_digest_stays_within_slack_limits(tmp_path: Path) -> None:
    store = Store(tmp_path / "huge.db")
    store.migrate(all_migrations())
    services = [f"{'payments-ledger-reconciliation-' * 2}{n:02d}"[:80] for n in range(40)]
    did = 0
    for n, service in enumerate(services):
        for k in range(4):
            did += 1
            deploy(store, did, service, f"11-{18 + k} 1{n % 10}:00",
                   changes=((f"s{did}", f"11-{18 + k} 0{n % 10}:00"),))
    for n in range(60):
        title = f"<!channel> & {'very long incident title ' * 8}{n}"
        incident(store, n + 1, 1 + n % 4, "11-20 10:00", None, service=services[n % 40],
                 title=title, private=n % 7 == 0)
        followup(store, n + 1, f"{'do the thing carefully ' * 10}{n}", "2026-11-21")
    cfg = DigestSettings(max_services=40)
    d = build_digest(store.conn, cfg, PARIS, POSTED)
    assert len(d.services) == 40 and d.overdue_total == 60
    for message in (messages.summary(d), messages.details(d), messages.stats(d)):
        assert validate_blocks(message["blocks"]) == []
        assert total_text_length(message["blocks"]) <= messages.MESSAGE_BUDGET
        assert len(message["blocks"]) <= 50
        assert "<!channel>" not in str(message["blocks"])
    details = messages.details(d)
    assert "&lt;!channel&gt; &amp;" in str(details)
    assert "… and 50 more open" in str(details) and "… and 50 more" in str(details)
    assert "more services: try `/deploy stats <service>`" in str(details)


def test_titles_near_the_4000_character_limit_keep_every_line_readable(tmp_path: Path) -> None:
    store = Store(tmp_path / "long.db")
    store.migrate(all_migrations())
    deploy(store, 1, "api", "11-20 10:00")
    long = f"“Ünïcode” 🚀 <!channel> <@{ANA}|ana> & " * 100  # ~3,900 characters
    for n in range(12):
        incident(store, n + 1, 2, "11-20 10:00", None, title=long[: 3990 - n])
        followup(store, n + 1, long[: 3990 - n], "2026-11-21")
    d = build_digest(store.conn, DigestSettings(), PARIS, POSTED)
    for message in (messages.summary(d), messages.details(d), messages.stats(d)):
        assert validate_blocks(message["blocks"]) == []
        assert total_text_length(message["blocks"]) <= messages.MESSAGE_BUDGET
        assert "<!channel>" not in str(message) and f"<@{ANA}" not in str(message)
    details = str(messages.details(d)["blocks"])
    assert "… and 2 more open" in details and "… and 2 more" in details
    assert details.count("🚀") >= 10  # each of the ten shown keeps its start, not one giant line


def test_an_overlong_section_is_cut_at_a_line_end(tmp_path: Path) -> None:
    store = Store(tmp_path / "amp.db")
    store.migrate(all_migrations())
    deploy(store, 1, "api", "11-20 10:00")
    for n in range(10):  # 150 "&" per title: 750 characters each once escaped
        incident(store, n + 1, 2, "11-20 10:00", None, title="&" * 200)
    d = build_digest(store.conn, DigestSettings(), PARIS, POSTED)
    block = next(b for b in messages.details(d)["blocks"] if b["block_id"] == "digest_recovery")
    text = block["text"]["text"]
    assert len(text) <= 3000 and text.endswith("\n…")
    lines = text.split("\n")
    assert len(lines) == 5 and all(line.endswith("&amp;… (SEV2): open 4 d") for line in lines[1:4])
