"""MTurk's ExternalQuestion: the HIT frames the study, and the finish page submits the assignment."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from evalsite.rating.models import Participant

from .test_browser import shot


def test_it_lets_the_listed_origins_frame_participant_pages_and_nobody_frame_the_admin(client, make_study,
                                                                                      settings):
    settings.PARTICIPANT_FRAME_ANCESTORS = ["https://worker.mturk.com", "https://workersandbox.mturk.com"]
    experiment = make_study()
    response = client.get(reverse("rating:entry", args=[experiment.slug]))
    assert response["Content-Security-Policy"] == (
        "frame-ancestors 'self' https://worker.mturk.com https://workersandbox.mturk.com"
    )
    assert "X-Frame-Options" not in response
    admin = client.get("/admin/login/")
    assert admin["X-Frame-Options"] == "DENY" and "Content-Security-Policy" not in admin
    # A study link that names no study: the frame shows the 404 page, not a blank frame.
    missing = client.get(reverse("rating:entry", args=["no-such-study"]))
    assert missing.status_code == 404 and "X-Frame-Options" not in missing
    assert missing["Content-Security-Policy"].startswith("frame-ancestors 'self' https://worker.mturk.com")
    assert client.get("/researcher/no-such-page/")["X-Frame-Options"] == "DENY"


def test_it_sends_the_cookies_a_frame_needs_partitioned(client, make_study, settings):
    # As in production with framing on: SameSite=None and Secure, hence Partitioned (CHIPS).
    settings.PARTICIPANT_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    experiment = make_study()
    url = reverse("rating:entry", args=[experiment.slug])
    consent = client.get(url)
    assert consent.cookies["csrftoken"].OutputString().endswith("; SameSite=None; Secure; Partitioned")
    response = client.post(url, {"consent": "on"})
    cookie = response.cookies[f"participant-{experiment.slug}"].OutputString()
    assert "SameSite=None" in cookie and cookie.endswith("; Partitioned")
    settings.PARTICIPANT_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "Lax"  # framing off
    assert "Partitioned" not in client.__class__().get(url).cookies["csrftoken"].OutputString()


def test_it_submits_the_assignment_to_turk_submit_to_only_for_mturk_origins(client, make_study, walk,
                                                                            settings):
    settings.MTURK_SUBMIT_TO = ["https://workersandbox.mturk.com"]
    experiment = make_study(slug="hit", gold=0, trap=0, training=0)
    for submit_to, shown in [("https://workersandbox.mturk.com", True), ("https://evil.example", False)]:
        w = walk(experiment, client.__class__())
        w.to_rating(workerId=f"W-{shown}", hitId="H1", assignmentId=f"A-{shown}", turkSubmitTo=submit_to)
        while (assignment := w.current()) is not None:
            w.rate(assignment, 4)
        html = w.client.get(w.url("done")).content.decode()
        if shown:
            action = "https://workersandbox.mturk.com/mturk/externalSubmit"
            assert f'<form id="mturk-submit" method="post" action="{action}">' in html
            assert '<input type="hidden" name="assignmentId" value="A-True">' in html
        else:
            assert "mturk-submit" not in html and "evil.example" not in html
            assert 'id="completion-code"' in html


class HitPage(BaseHTTPRequestHandler):
    """What MTurk does for an ExternalQuestion: a page that frames the study, and externalSubmit."""

    study_url = ""
    admin_url = ""
    submitted: list = []

    def do_GET(self):
        # One frame per page: two pages of the site loading at once would each set a CSRF cookie.
        frame, src = ("admin", self.admin_url) if self.path == "/admin-frame" else ("study", self.study_url)
        body = (f'<!doctype html><title>HIT</title><h1>HIT</h1>'
                f'<iframe id="{frame}" src="{src}" width="1000" height="800"></iframe>').encode()
        self._answer(body)

    def do_POST(self):
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.submitted.append((urlparse(self.path).path, form))
        self._answer(b"<!doctype html><p id='submitted'>HIT submitted</p>")

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hit_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HitPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_framed_participant_takes_the_study_and_submits_the_hit(
    transactional_db, live_server, make_study, settings, hit_server, new_page
):
    from playwright.sync_api import expect

    hit_origin = f"http://127.0.0.1:{hit_server.server_port}"
    site = live_server.url.replace("localhost", "127.0.0.1")  # same site as the HIT, another origin
    settings.PARTICIPANT_FRAME_ANCESTORS = [hit_origin]
    settings.MTURK_SUBMIT_TO = [hit_origin]
    make_study(slug="framed", videos=1, methods=("original",), gold=0, trap=0, training=0)
    HitPage.study_url = f"{site}/s/framed/?workerId=W9&hitId=H9&assignmentId=A9&turkSubmitTo={hit_origin}"
    HitPage.admin_url = f"{site}/admin/login/"
    HitPage.submitted = []

    page = new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{hit_origin}/hit")
    study = page.frame_locator("#study")
    study.get_by_label("I have read the above and agree to take part.").check()
    study.get_by_role("button", name="Start").click()
    expect(study.get_by_role("heading", name="Audio check")).to_be_visible()
    participant = Participant.objects.get(external_id="W9")
    study.get_by_label("Digits you heard").fill(participant.audio_check_digits)
    study.get_by_role("button", name="Continue").click()
    study.get_by_role("button", name="Start rating").click()
    study.get_by_role("button", name="Play", exact=True).click()
    expect(study.locator("#submit")).to_be_enabled()
    shot(page, "mturk-hit-rate")
    study.get_by_role("radio", name="4 Good").check()
    study.locator("#submit").click()
    expect(study.get_by_role("heading", name="Thank you!")).to_be_visible()
    shot(page, "mturk-hit-done")
    study.get_by_role("button", name="Submit the HIT").click()
    expect(study.locator("#submitted")).to_have_text("HIT submitted")
    participant.refresh_from_db()
    form = {"assignmentId": ["A9"], "completion_code": ["C0DE-42"],
            "personal_code": [participant.completion_code]}
    assert HitPage.submitted == [("/mturk/externalSubmit", form)]
    assert participant.assignments.filter(rating__score=4).count() == 1
    # The admin refuses to be framed: its frame never shows the login form.
    page.goto(f"{hit_origin}/admin-frame")
    page.wait_for_load_state("load")
    assert page.frame_locator("#admin").get_by_label("Username").count() == 0
