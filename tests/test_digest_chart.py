"""The trend chart says what it shows: counts under each week, gaps named, units that fit."""

from __future__ import annotations

import io

import pytest
from fakes.stores import OpenStore, conn_of
from matplotlib.image import imread
from shipbell.bot.dora.chart import render_chart, series, title
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.storage import Store
from test_digest_reference import PARIS, POSTED, deploy, reference_digest, reference_store


@pytest.fixture
def store(new_store: OpenStore) -> Store:
    return reference_store(new_store)


def test_reference_series_counts_rates_and_lead(store: Store) -> None:
    s = series(reference_digest(store, trend=True))
    assert s.labels[0] == "Sep 30\nno deploys" and s.labels[-2:] == ["Nov 11\n4 deploys",
                                                                       "Nov 18\n6 deploys"]
    assert (s.ok[-2:], s.failed[-2:]) == ([3, 3], [1, 3])
    assert s.rates == [None] * 6 + [0.25, 0.5]  # empty weeks are gaps, not 0%
    assert s.lead_unit == "hours" and s.medians[-2:] == [2.0, 2.0] and s.p90s[-1] == 24.0
    assert s.medians[:6] == [None] * 6 and s.lead_n[-2:] == [5, 8]


def test_a_week_below_the_minimum_sample_has_no_rate(store: Store) -> None:
    # web: 1 deploy the week before, 2 this week (one rolled back): a 50% rate on 2
    # deploys would be noise, so the chart leaves a gap and the tick says why
    s = series(reference_digest(store, service="web", trend=True))
    assert s.rates[-2:] == [None, None] and s.labels[-1] == "Nov 18\n2 deploys"


def test_long_lead_times_are_in_days(new_store: OpenStore) -> None:
    db = new_store("slow.db")
    for n in range(3):
        deploy(db, n + 1, "api", f"11-2{n} 10:00", changes=((f"s{n}", f"11-1{n} 10:00"),))
    d = build_digest(conn_of(db), DigestSettings(), PARIS, POSTED, trend=True)
    s = series(d)
    assert s.lead_unit == "days" and s.medians[-1] == 10.0


def test_the_png_is_a_real_image_even_for_an_empty_history(
    new_store: OpenStore, store: Store
) -> None:
    empty = new_store("empty.db")
    for digest, height in ((reference_digest(store, trend=True), 560),
                           (build_digest(conn_of(empty), DigestSettings(), PARIS, POSTED), 380)):
        pixels = imread(io.BytesIO(render_chart(digest)), format="png")
        assert pixels.shape[:2] == (height, 800)
    assert title(reference_digest(store)) == (
        "Weekly delivery trend · production · 8 weeks to Nov 24 (Europe/Paris)")


def test_many_weeks_get_one_turned_label_each_and_a_wider_chart(store: Store) -> None:
    cfg = DigestSettings(timezone="Europe/Paris", chart_weeks=26)
    d = build_digest(conn_of(store), cfg, PARIS, POSTED, trend=True)
    s = series(d)
    assert s.labels[0] == "May 27 · 0" and s.labels[-1] == "Nov 18 · 6"
    pixels = imread(io.BytesIO(render_chart(d)), format="png")
    assert pixels.shape[1] == 1370  # 0.45 inch a week instead of 26 labels in 8 inches
