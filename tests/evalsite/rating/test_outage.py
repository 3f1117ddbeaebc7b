"""An unreachable database or broker: participants get a 503 page in the study's style, with a
retry button and no technical detail. The database is made unreachable for real: a server process
whose DATABASE_URL names a port where nothing listens (the shared PostgreSQL keeps running)."""

import http.client
import socket
import subprocess
import sys
import time

import pytest

from evalsite.rating.models import Rating
from tests.conftest import ROOT, worker_env

from .conftest import signed_cookie
from .test_browser import shot

# What the outage page promises; test_it_does_after_a_retry_what_the_outage_page_says checks it.
AFTER_RETRY = ("press Try again: you come back to the first clip you have not rated yet. If your last "
               "rating did not reach us, that clip is shown again: play it to the end, choose your "
               "score and press Next.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


@pytest.fixture(scope="module")
def server_without_database(tmp_path_factory):
    """gunicorn serving the site with its database on a closed port."""
    dead = free_port()  # bound and released: nothing listens there
    port = free_port()
    env = worker_env({
        "DJANGO_SETTINGS_MODULE": "evalsite.test_settings",  # production settings over plain HTTP
        "DATABASE_URL": f"postgres://root@127.0.0.1:{dead}/gone",
        "CELERY_BROKER_URL": "",
        "DEBUG": "false",
        "LOG_LEVEL": "CRITICAL",
    })
    log = open(tmp_path_factory.mktemp("outage") / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "evalsite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )
    try:
        while True:  # until it answers or exits (pytest's timeout bounds a hang)
            try:
                if get(port, "/ping/")[0] == 200:
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start: {open(log.name).read()[-2000:]}") from None
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/s/any-study/?PROLIFIC_PID=p1&amp;STUDY_ID=s1", "/s/any-study/rate/",
                                  "/s/any-study/done/"])
def test_it_answers_503_with_a_retry_button_when_the_database_is_down(server_without_database, path):
    status, headers, html = get(server_without_database, path.replace("&amp;", "&"))
    assert status == 503
    assert headers["Retry-After"] == "10"
    assert "<h1>Please try again in a moment</h1>" in html
    assert " ".join(html.split()).count(AFTER_RETRY) == 1
    assert f'<a class="button" id="retry" href="{path}">Try again</a>' in html  # the same link again
    assert "rating/rating.css" in html  # the participant pages' style
    for detail in ("OperationalError", "psycopg", "connection", "Traceback", "gone", "Server Error"):
        assert detail not in html


@pytest.mark.slow
def test_it_keeps_the_plain_error_for_researcher_pages(server_without_database):
    # A session cookie makes the login check read the (unreachable) session table.
    status, _, html = get(server_without_database, "/researcher/experiments/1/results/",
                          {"Cookie": "sessionid=" + "x" * 32})
    assert status == 500 and "Please try again in a moment" not in html


@pytest.mark.slow
def test_it_shows_the_outage_page_in_a_browser(server_without_database, new_page):
    from playwright.sync_api import expect

    page = new_page(viewport={"width": 390, "height": 844})
    url = f"http://127.0.0.1:{server_without_database}/s/any-study/?PROLIFIC_PID=p1"
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Please try again in a moment")
    shot(page, "outage")
    page.get_by_role("link", name="Try again").click()
    expect(page).to_have_url(url)
    expect(page.get_by_role("link", name="Try again")).to_be_visible()


def test_it_treats_an_unreachable_broker_as_an_outage():
    from kombu import Connection

    from evalsite.rating.views import is_outage

    with Connection(f"redis://127.0.0.1:{free_port()}//", connect_timeout=1) as conn:
        with pytest.raises(Exception) as raised:
            conn.ensure_connection(max_retries=1)
    assert is_outage(raised.value)
    assert not is_outage(ValueError("a bug, not an outage"))


@pytest.mark.slow
def test_it_does_after_a_retry_what_the_outage_page_says(transactional_db, live_server, make_study, walk,
                                                         new_page):
    from playwright.sync_api import expect

    participant = walk(make_study(slug="back", gold=0, trap=0)).to_rating()
    total = participant.assignments.count()
    page = new_page()
    page.context.add_cookies([{"name": "participant-back", "url": live_server.url,
                               "value": signed_cookie("back", participant.token)}])
    page.goto(f"{live_server.url}/s/back/rate/")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.get_by_role("button", name="Next")).to_be_enabled()
    page.get_by_role("radio", name="4 Good").check()
    # The rating never reached the server; Try again loads the page's URL afresh.
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Clip 1 of {total}")  # the same clip
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    assert not page.get_by_role("radio", name="4 Good").is_checked()
    page.get_by_role("button", name="Play", exact=True).click()  # played to the end again
    expect(page.get_by_role("button", name="Next")).to_be_enabled()
    page.get_by_role("radio", name="4 Good").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Clip 2 of {total}")
    assert Rating.objects.get(assignment__participant=participant).score == 4
