"""The results chart on a 390 px phone, in Chromium: its text stays legible (the chart scrolls
inside its own box), and the page itself does not scroll sideways."""

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GOOD = {"gold": [1], "trap": [4]}


def test_it_keeps_the_chart_legible_on_a_phone(live_server, researcher, make_experiment, rate, new_page):
    methods = ("proposed", "triplet2", "triplet1", "random", "original")
    experiment = make_experiment(methods=methods, videos=2, seed=3)
    for i in range(4):
        rate(experiment, {m: [5 - k, 4 - k % 2] for k, m in enumerate(methods)} | GOOD, external_id=f"p{i}")
    page = new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "researcher")
    page.fill("#id_password", "researcher-pass-42")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}{reverse('experiments:results', args=[experiment.pk])}")
    svg = page.locator("#mos-chart svg")
    # matplotlib writes the chart at 72 points per inch with 10 pt text: its rendered size here.
    text_px = svg.evaluate("s => s.getBoundingClientRect().width / s.width.baseVal.value * 10 * 4 / 3")
    assert text_px >= 9, f"chart text {text_px:.1f} px high at 390 px"
    figure_right = page.locator("#mos-chart").evaluate("f => f.getBoundingClientRect().right")
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert figure_right <= inner and scroll <= inner
