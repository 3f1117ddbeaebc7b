"""A researcher in headless Chromium imports a method on the experiment page: a zip that climbs
out of its folder is refused with its reason and nothing stored, a zip of soundtracks is taken."""

import zipfile
from pathlib import Path

import pytest

from evalsite.experiments.models import ImportedOutput
from tests.evalsite.experiments.test_browser_researcher import login, messages, no_horizontal_scroll
from tests.workers.conftest import experiment, library, video_row
from tests.workers.media import chirp, make_wav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zipped(path: Path, members: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in members.items():
            archive.write(source, name)
    return path


def test_a_researcher_uploads_an_imported_method(live_server, new_page, researcher, media_root, tmp_path):
    from playwright.sync_api import expect

    root = Path(media_root)
    root.mkdir(parents=True, exist_ok=True)
    study = experiment([video_row(root, n)[0] for n in ("door", "glass")], library(root, n=2), ("random",))
    tracks = {n: make_wav(tmp_path / f"{n}.wav", chirp(7.0, seed=i)) for i, n in enumerate(("door", "glass"))}
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/experiments/experiment/{study.pk}/change/")
    page.get_by_role("link", name="Import a method").click()
    expect(page.locator("h1")).to_contain_text("Import a method into 'Exp'")
    no_horizontal_scroll(page, "import-method")

    # A zip with a path that climbs out: refused, named, nothing stored.
    page.fill("#id_label", "Generator")
    page.get_by_label("Soundtracks: one audio file per video").check()
    evil = zipped(tmp_path / "evil.zip", {"door.wav": tracks["door"], "../glass.wav": tracks["glass"]})
    page.set_input_files("#id_upload", str(evil))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-problems")).to_contain_text(
        "../glass.wav: its path climbs out of the folder"
    )
    assert not study.methods.filter(label="Generator").exists() and not ImportedOutput.objects.exists()
    no_horizontal_scroll(page, "import-method-refused")

    # A CSV given as soundtracks: the form says which file it wants.
    (tmp_path / "top1.csv").write_text("video,sound\ndoor,s0\nglass,s1\n")
    page.set_input_files("#id_upload", str(tmp_path / "top1.csv"))
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".errorlist")).to_contain_text("Soundtracks are uploaded as a .zip file")

    # The soundtracks as they should be.
    page.get_by_label("Soundtracks: one audio file per video").check()
    page.set_input_files(
        "#id_upload", str(zipped(tmp_path / "good.zip", {f"{n}.wav": p for n, p in tracks.items()}))
    )
    page.get_by_role("button", name="Import").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Imported method 'Generator' (2 outputs)")
    assert "build the experiment" in messages(page)
    assert study.methods.get(label="Generator").outputs.filter(form="soundtracks").count() == 2

    # Choices from a CSV, then Cancel on a fresh form leads back to the experiment.
    page.get_by_role("link", name="Import a method").click()
    page.fill("#id_label", "Other retrieval")
    page.set_input_files("#id_upload", str(tmp_path / "top1.csv"))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Imported method 'Other retrieval' (2 outputs)")
    page.get_by_role("link", name="Import a method").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{live_server.url}/admin/experiments/experiment/{study.pk}/change/")
