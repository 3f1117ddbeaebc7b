"""MTurk's ExternalQuestion across sites, over HTTPS, with Chromium's default cookie policy: the HIT
page (https://localhost) frames the study (https://127.0.0.1), another site, so the study's cookies
are third-party cookies there. The participant still takes part, and an error inside the frame
is a readable page, not a blank frame."""

import http.client
import shutil
import ssl
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from evalsite.rating.models import Participant
from tests.conftest import ROOT, _missing, worker_env

from .test_mturk import HitPage
from .test_outage import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        _missing("openssl is not installed (apt-get install -y openssl)")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def hit_site(certificate):
    """The HIT page on https://localhost:<port>."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HitPage)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def study_site(transactional_db, media_root, certificate, hit_site, tmp_path):
    """The site under gunicorn on https://127.0.0.1:<port>, with production cookies (Secure,
    framing allowed for the HIT's origin), on the test database."""
    port = free_port()
    env = worker_env({
        "DJANGO_SETTINGS_MODULE": "evalsite.test_settings",
        "SESSION_COOKIE_SECURE": "true",
        "CSRF_COOKIE_SECURE": "true",
        "PARTICIPANT_FRAME_ANCESTORS": hit_site,
        "MTURK_SUBMIT_TO": hit_site,
        "MEDIA_ROOT": str(media_root),
        "DEBUG": "false",
    })
    log = open(tmp_path / "gunicorn.log", "wb")
    cert, key = certificate
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "evalsite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--certfile", str(cert), "--keyfile", str(key)],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(cert))
    try:
        while True:  # until it answers or exits (pytest's timeout bounds a hang)
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
                conn.request("GET", "/ping/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start: {open(log.name).read()[-2000:]}") from None
                time.sleep(0.2)  # polling a starting server; no event to wait on
        yield f"https://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_participant_in_a_cross_site_https_frame_takes_part_without_third_party_cookies(
    make_study, hit_site, study_site, new_page
):
    from playwright.sync_api import expect

    make_study(slug="xsite", videos=1, methods=("original",), gold=0, trap=0, training=0)
    HitPage.study_url = f"{study_site}/s/xsite/?workerId=X1&hitId=H1&assignmentId=A1&turkSubmitTo={hit_site}"
    HitPage.submitted = []
    page = new_page(ignore_https_errors=True, viewport={"width": 1280, "height": 1000})
    page.goto(f"{hit_site}/hit")
    study = page.frame_locator("#study")
    # A form whose CSRF cookie is gone: a readable page inside the frame, not a blank one.
    study.get_by_label("I have read the above and agree to take part.").check()
    page.context.clear_cookies()
    study.get_by_role("button", name="Start").click()
    expect(study.get_by_role("heading", name="Please reload the page")).to_be_visible()
    expect(study.get_by_role("alert")).to_contain_text("did not send back this study's security cookie (CSRF")
    assert not Participant.objects.exists()

    page.reload()
    study.get_by_label("I have read the above and agree to take part.").check()
    study.get_by_role("button", name="Start").click()
    expect(study.get_by_role("heading", name="Audio check")).to_be_visible()
    participant = Participant.objects.get(external_id="X1")
    wrong = "".join(str((int(d) + 1) % 10) for d in participant.audio_check_digits)
    study.get_by_label("Digits you heard").fill(wrong)
    study.get_by_role("button", name="Continue").click()
    expect(study.get_by_role("status")).to_have_text(
        "Those were not the digits in the clip. Please listen to the new clip.")
    participant.refresh_from_db()
    study.get_by_label("Digits you heard").fill(participant.audio_check_digits)
    study.get_by_role("button", name="Continue").click()
    study.get_by_role("button", name="Start rating").click()
    study.get_by_role("button", name="Play", exact=True).click()
    study.get_by_role("radio", name="4 Good").check()
    study.get_by_role("button", name="Next").click()
    expect(study.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert participant.assignments.filter(rating__score=4).count() == 1
