"""The embedding runs in the admin, in headless Chromium: the list shows chunk progress, the run's
page its chunks; every link on the way is clicked."""

import pytest
from django.utils import timezone

from evalsite.experiments.models import SoundLibrary
from tests.evalsite.experiments.test_browser_researcher import SHOTS, WIDTHS, login
from workers.models import EmbeddingChunk, EmbeddingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_researcher_follows_a_library_embedding_chunk_by_chunk(live_server, new_page, researcher):
    library = SoundLibrary.objects.create(name="Foley library")
    run = EmbeddingRun.objects.create(library=library, model_sha256="ab" * 32, library_hash="cd" * 32,
                                      sounds=10_000, chunk_size=4096)  # fmt: skip
    for i, (first, last, n) in enumerate([(1, 4096, 4096), (4097, 8192, 4096), (8193, 10_000, 1808)]):
        EmbeddingChunk.objects.create(run=run, index=i, first_pk=first, last_pk=last, sounds=n,
                                      attempts=1 if i < 2 else 0, worker="gpu-1@host" if i < 2 else "",
                                      done_at=timezone.now() if i < 2 else None)  # fmt: skip
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.click("text=Embedding runs")  # on the admin's index, under Workers
    row = page.locator("#result_list tbody tr")
    row.first.wait_for()
    assert row.count() == 1
    assert "2 / 3" in row.inner_text() and "abababababab" in row.inner_text()
    page.click("#result_list tbody tr a")
    page.wait_for_selector(".tabular")
    assert page.locator("h1").inner_text() == "View embedding run"
    chunks = page.locator(".tabular tbody tr.has_original")
    assert chunks.count() == 3
    assert "gpu-1@host" in chunks.nth(0).inner_text() and "1808" in chunks.nth(2).inner_text()
    assert page.locator("input[type=submit]").count() == 0  # read-only: nothing to save or add
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"embedding-run-{width}.png"), full_page=True)
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"the run's page is {scroll} px wide in a {inner} px window"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("text=Close")
    page.wait_for_url("**/admin/workers/embeddingrun/")
    page.click("#result_list tbody tr a")
    page.wait_for_selector(".tabular")
    page.click(".breadcrumbs >> text=Embedding runs")
    page.wait_for_url("**/admin/workers/embeddingrun/")
    page.click(".breadcrumbs >> text=Workers")
    page.wait_for_url("**/admin/workers/")
    # Deleting a run only forgets its progress (the chunk files stay; the next build makes a new run).
    page.goto(f"{live_server.url}/admin/workers/embeddingrun/{run.pk}/change/")
    page.click("text=Delete")
    page.wait_for_url("**/delete/")
    page.click("text=Yes, I’m sure")
    page.wait_for_selector("ul.messagelist")
    assert "deleted successfully" in page.locator("ul.messagelist").inner_text(), page.url
    assert not EmbeddingRun.objects.exists() and not EmbeddingChunk.objects.exists()
    assert SoundLibrary.objects.filter(pk=library.pk).exists()
