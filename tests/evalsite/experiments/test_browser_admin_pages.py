"""A researcher in headless Chromium reads the admin's listing pages: a sound library lists its
sounds, the preview filters by method and video and pages its clips, the planner says plainly when
power never reaches its target, and no table header breaks inside a word nor the page scrolls
sideways (1280, 800 and 390 px)."""

import re

import pytest

from tests.evalsite.experiments.test_browser_researcher import SHOTS, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ODD_SECONDS = 7.6 - 1e-15  # what a float sum stores for 7.6 s: shown as '7.60 s'

# For each header cell, the words whose text the browser laid out on more than one line.
SPLIT_WORDS = """(selector) => {
  const split = [];
  for (const th of document.querySelectorAll(selector)) {
    if (!th.offsetParent) continue;  // a hidden header (the phone's stacked cards) breaks nothing
    const text = th.firstChild;
    if (!text || text.nodeType !== Node.TEXT_NODE) continue;
    for (const match of text.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(text, match.index);
      range.setEnd(text, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (lines.size > 1) split.push(match[0]);
    }
  }
  return split;
}"""


def headers_whole(page, selector, name):
    for width in (1280, 1024, 800, 390):
        page.set_viewport_size({"width": width, "height": 900})
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        assert page.evaluate(SPLIT_WORDS, selector) == [], f"{name} at {width} px"
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} is {scroll} px wide in a {inner} px window"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_it_lists_a_librarys_sounds_each_a_link(live_server, new_page, researcher, make_experiment):
    from evalsite.experiments.models import Sound

    experiment = make_experiment(methods=("random", "original"), videos=1)
    library = experiment.sound_library
    Sound.objects.filter(library=library).update(duration=ODD_SECONDS, sound_class="door")
    whoosh = Sound.objects.create(library=library, name="whoosh", duration=0.6, sample_rate=16000)
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/experiments/soundlibrary/{library.pk}/change/")

    listing = page.locator("#library-sounds")
    assert listing.locator("tbody tr").count() == 2
    assert "bang" in listing.inner_text() and "7.60 s" in listing.inner_text()
    assert "7.599" not in page.content()
    headers_whole(page, "#library-sounds th", "library")
    listing.get_by_role("link", name="whoosh").click()
    page.wait_for_url(f"**/admin/experiments/sound/{whoosh.pk}/change/")
    page.go_back()
    page.get_by_role("link", name="All 2 sounds of this library").click()
    page.wait_for_url(f"**/admin/experiments/sound/?library__id__exact={library.pk}")
    assert page.locator("#result_list tbody tr").count() == 2


def test_the_preview_filters_by_method_and_video_and_pages_its_clips(
    live_server, new_page, researcher, make_experiment
):
    from evalsite.experiments.preview import PREVIEW_PAGE

    experiment = make_experiment(methods=("proposed", "random", "original", "triplet"), videos=9)
    total = experiment.stimuli.count()
    assert total == 9 * 4 + 2 and total > PREVIEW_PAGE
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/experiments/experiment/{experiment.pk}/change/")
    page.get_by_role("link", name="Preview stimuli").click()

    rows = page.locator("#stimuli tbody tr")
    assert rows.count() == PREVIEW_PAGE
    assert f"{total} stimuli" in page.locator("#preview-count").inner_text()
    page.get_by_role("link", name="next", exact=True).first.click()
    page.wait_for_url("**page=2*")
    assert rows.count() == total - PREVIEW_PAGE
    headers_whole(page, "#stimuli th", "preview")

    page.select_option("#id_method", label="random")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**method=*")
    assert rows.count() == 9
    assert set(rows.locator("td[data-label=method]").all_inner_texts()) == {"random"}
    assert page.get_by_role("link", name="next", exact=True).count() == 0

    page.select_option("#id_video", label="clip3")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**video=*")
    assert rows.count() == 1
    assert rows.locator("td[data-label=video]").inner_text() == "clip3"
    page.get_by_role("link", name="All stimuli").click()
    assert rows.count() == PREVIEW_PAGE


def test_the_planner_says_plainly_when_power_never_reaches_the_target(
    live_server, new_page, researcher, make_experiment
):
    experiment = make_experiment(methods=("proposed", "random"), videos=2)
    proposed, random = experiment.methods.order_by("order")
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/experiments/experiment/")
    page.get_by_role("link", name="plan", exact=True).click()
    page.fill("#id_participants", "4, 8")
    page.fill("#id_simulations", "100")
    page.fill(f"#id_mos_{proposed.pk}", "3.2")
    page.fill(f"#id_mos_{random.pk}", "3.0")
    page.click("#simulate")

    sentence = page.locator("#plan-sentences li").inner_text()
    assert sentence.startswith(
        "proposed > random: power does not reach 0.80 within 4 to 8 participants tried"
    )
    assert re.search(r"the most it reaches is 0\.\d\d \(with [48] participants, alpha 0\.05\)", sentence)
    assert "With 8 participants" not in sentence
    headers_whole(page, "#power-table th", "plan")
