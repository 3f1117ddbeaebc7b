"""Rating submissions per second through gunicorn and PostgreSQL, against a trivial view.

    .venv/bin/python bench/ratings.py [--clients 64] [--ratings 40] [--rounds 3] [--workers NCPU]
        [--threads 16] [--server postgres://root@127.0.0.1:5432/postgres] [--database bench_ratings]

Creates a scratch database (`--database`, dropped afterwards), an open study with one
participant per client, and starts `gunicorn evalsite.wsgi` on a free loopback port. Then
`--clients` threads, each with its own keep-alive connection, session cookie and CSRF token:

  1. trivial  GET /ping/ (no database), `--ratings` requests per client: the reference;
  2. ratings  POST /s/<slug>/rate/, `--ratings` per client, each client rating its own clips in
              order through the real view (signed participant cookie, CSRF, form, every rule
              checked, the rating committed before the answer);
     1 and 2 alternate for `--rounds` rounds; each reports its median round;
  3. replays  each client posts 3 of its accepted clips again with another score: all must be
              refused (409); the same score again would be answered as stored.
  4. consents `--consents` rounds in which every client consents at the same moment as a new
              Prolific participant (POST /s/<slug>/?PROLIFIC_PID=..., participant and assignment
              list created); then every client consents as one and the same worker.

Prints requests/s and p50/p99 latency of each phase, the ratio ratings/trivial (goal >= 40%),
the consent p99 (goal < 1 s), and checks that every accepted rating is stored exactly once with
its score and nothing else is, and that every crowd id was enrolled exactly once.
Exit status 1 when a check fails.
"""

import argparse
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--ratings", type=int, default=40, help="Submissions per client.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds of each phase.")
    parser.add_argument("--consents", type=int, default=3, help="Rounds of simultaneous consents.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn worker processes.")
    parser.add_argument("--threads", type=int, default=16, help="Threads per gunicorn worker (gthread).")
    parser.add_argument("--server", default="postgres://root@127.0.0.1:5432/postgres",
                        help="A PostgreSQL URL whose user may create databases.")
    parser.add_argument("--database", default="bench_ratings",
                        help="Name of the scratch database (dropped before and after the run).")
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds per HTTP request.")
    return parser.parse_args()


def scratch_database(server_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlparse(server_url)._replace(path=f"/{name}").geturl()


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_env(database_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "evalsite.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }


def setup_study(clients: int, ratings: int) -> list[dict]:
    """An open study, one enrolled participant per client with a session; returns the clients."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.http import HttpResponse
    from django.utils import timezone

    from evalsite.experiments.models import Experiment, Method, Stimulus, Video
    from evalsite.rating import enrolment, session
    from evalsite.rating.models import Participant

    experiment = Experiment.objects.create(title="Bench", slug=SLUG, status=Experiment.Status.OPEN,
                                           gold_clips=0, trap_clips=0, participants_wanted=10 * clients)
    methods = [Method.objects.create(experiment=experiment, kind=k, label=k, order=i)
               for i, k in enumerate(["random", "original"])]
    videos = [Video.objects.create(name=f"v{i}", file=f"videos/v{i}.mp4") for i in range((ratings + 1) // 2)]
    Stimulus.objects.bulk_create(
        Stimulus(experiment=experiment, video=v, method=m, status=Stimulus.Status.DONE, file="stimuli/x.mp4")
        for v in videos for m in methods
    )
    result = []
    for _ in range(clients):
        participant = enrolment.enroll(experiment, enrolment.entry_params({}))
        # The audio check and instructions are not what is measured: mark them done.
        Participant.objects.filter(pk=participant.pk).update(audio_check_passed=True,
                                                            training_done_at=timezone.now())
        # Nor is playback: the clips were served and began playing (they have no duration here).
        participant.assignments.update(media_served_at=timezone.now(), playback_started_at=timezone.now())
        cookie = session.cookie_name(SLUG)
        response = session.set_participant_cookie(HttpResponse(), SLUG, participant.token)
        signed = response.cookies[cookie].value
        clips = [str(t) for t in participant.assignments.order_by("position")
                 .values_list("stimulus__token", flat=True)[:ratings]]
        result.append({"participant": participant.pk, "cookie": f"{cookie}={signed}",
                       "csrf": secrets.token_hex(16), "clips": clips})
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "evalsite.wsgi", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
           "--keep-alive", "30", "--log-level", "warning"]
    # The server's log (one warning per refused replay) goes to a file, not into the table.
    log = open(Path(tempfile.gettempdir()) / f"bench-ratings-gunicorn-{port}.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode}, see {log.name}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping/")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise TimeoutError("gunicorn did not answer /ping/ within 60 s")


class Client:
    def __init__(self, port: int, spec: dict, timeout: float):
        self.port, self.spec, self.timeout = port, spec, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {"Cookie": f"{spec['cookie']}; csrftoken={spec['csrf']}",
                        "X-CSRFToken": spec["csrf"], "Content-Type": "application/x-www-form-urlencoded"}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, float]:
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                response.read()
                return response.status, time.perf_counter() - start
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once. A POST whose
                # answer was lost may have been stored; the check at the end counts such cases.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt == 2 or method == "POST":
                    return 0, time.perf_counter() - start
        return 0, time.perf_counter() - start


def score_of(client_index: int, clip_index: int) -> int:
    return 1 + (client_index * 7 + clip_index * 3) % 5


def run_phase(port, specs, timeout, work):
    """Runs work(client, index, record) in one thread per client, all released together."""
    records = [[] for _ in specs]
    barrier = threading.Barrier(len(specs) + 1)

    def body(index):
        client = Client(port, specs[index], timeout)
        barrier.wait()
        work(client, index, records[index].append)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(specs))]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, [r for rs in records for r in rs]


def summary(name, rounds, ok_status):
    """rounds: [(seconds, [(status, latency)])]; the rate is that of the median round."""
    records = [r for _, rs in rounds for r in rs]
    latencies = sorted(latency for _, latency in records)
    ok = sum(1 for status, _ in records if status in ok_status)
    rates = [sum(1 for status, _ in rs if status in ok_status) / seconds for seconds, rs in rounds]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {"name": name, "requests": len(records), "ok": ok, "seconds": sum(s for s, _ in rounds),
            "rate": statistics.median(rates), "p50": statistics.median(latencies) * 1e3, "p99": p99 * 1e3}


def verify(specs, accepted) -> list[str]:
    from evalsite.rating.models import Rating

    problems = []
    stored = {}
    for participant, token, score in Rating.objects.values_list(
        "assignment__participant_id", "assignment__stimulus__token", "score"
    ):
        key = (participant, str(token))
        if key in stored:
            problems.append(f"rating stored twice: {key}")
        stored[key] = score
    for key, score in accepted.items():
        if stored.get(key) != score:
            problems.append(f"accepted rating {key} score {score} stored as {stored.get(key)}")
    extra = set(stored) - set(accepted)
    if extra:
        problems.append(f"{len(extra)} stored ratings were never acknowledged: {sorted(extra)[:3]}")
    return problems


def verify_enrolment(args) -> list[str]:
    from django.db.models import Count

    from evalsite.rating.models import Participant

    crowd = Participant.objects.exclude(external_id="")
    problems = [f"{row['external_id']} enrolled {row['n']} times"
                for row in crowd.values("external_id").annotate(n=Count("pk")).filter(n__gt=1)]
    expected = args.clients * args.consents + 1
    if crowd.count() != expected:
        problems.append(f"{crowd.count()} crowd participants, expected {expected}")
    sequences = list(Participant.objects.values_list("sequence", flat=True))
    if len(set(sequences)) != len(sequences):
        problems.append("two participants share an arrival number")
    if Participant.objects.annotate(n=Count("assignments")).filter(n=0).exists():
        problems.append("a participant has no assignments")
    return problems


LOAD_BEFORE = os.getloadavg()


def main():
    args = parse_args()
    database_url = scratch_database(args.server, args.database)
    env = server_env(database_url)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "SECRET_KEY",
                                           "CELERY_BROKER_URL", "LOG_LEVEL")})
    sys.path.insert(0, str(ROOT))
    try:
        return measure(args, env)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(args.server, args.database)


def measure(args, env) -> int:
    proc = None
    try:
        specs = setup_study(args.clients, args.ratings * args.rounds)
        port = free_port()
        proc = start_gunicorn(env, port, args.workers, args.threads)
        accepted: dict = {}
        rows = rating_phases(args, port, specs, accepted)
        rows += [replay_phase(args, port, specs), *consent_phases(args, port, specs)]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print_table(args, rows)
    return check(args, rows, specs, accepted)


def rating_phases(args, port, specs, accepted: dict) -> list[dict]:
    """The trivial and rating rounds, alternating; `accepted` gets every rating answered 302."""
    rate_path = f"/s/{SLUG}/rate/"

    def trivial(client, index, record):
        for _ in range(args.ratings):
            record(client.request("GET", "/ping/"))

    def ratings_of_round(round_):
        def ratings(client, index, record):
            first = round_ * args.ratings
            for n, clip in enumerate(client.spec["clips"][first : first + args.ratings], start=first):
                rate(client, index, n, clip, record)

        return ratings

    def rate(client, index, n, clip, record):
        score = score_of(index, n)
        status, latency = client.request("POST", rate_path, urlencode({"clip": clip, "score": score}))
        if status == 302:
            accepted[(client.spec["participant"], clip)] = score
        record((status, latency))

    # Rounds alternate, so that a burst of load from elsewhere on the machine hits both alike;
    # each phase reports its median round.
    rounds: dict[str, list] = {"trivial": [], "ratings": []}
    for round_ in range(args.rounds):
        rounds["trivial"].append(run_phase(port, specs, args.timeout, trivial))
        rounds["ratings"].append(run_phase(port, specs, args.timeout, ratings_of_round(round_)))
    return [summary("trivial GET /ping/", rounds["trivial"], {200}),
            summary("rating POST", rounds["ratings"], {302})]


def replay_phase(args, port, specs) -> dict:
    """Each client posts 3 of its rated clips again with another score."""

    def replays(client, index, record):
        for n, clip in enumerate(client.spec["clips"][:3]):
            other = score_of(index, n) % 5 + 1
            record(client.request("POST", f"/s/{SLUG}/rate/", urlencode({"clip": clip, "score": other})))

    return summary("replayed rating POST", [run_phase(port, specs, args.timeout, replays)], {409})


def consent_phases(args, port, specs) -> list[dict]:
    """Rounds of simultaneous consents as new crowd workers, then one as one and the same worker."""

    def consents_of_round(round_, same=False):
        def consent(client, index, record):
            worker = "bench-twin" if same else f"bench-{round_}-{index}"
            record(client.request("POST", f"/s/{SLUG}/?PROLIFIC_PID={worker}", "consent=on"))

        return consent

    rows = [summary("consent POST", [run_phase(port, specs, args.timeout, consents_of_round(r))
                                     for r in range(args.consents)], {302})]
    twin = run_phase(port, specs, args.timeout, consents_of_round(0, same=True))
    rows.append(summary("same worker consent", [twin], {302}))
    return rows


def print_table(args, rows: list[dict]) -> None:
    print(f"{args.clients} clients, gunicorn {args.workers} workers x {args.threads} threads, "
          f"PostgreSQL, {os.cpu_count()} CPUs\n")
    print(f"| {'phase':<22} | {'requests':>8} | {'ok':>6} | {'seconds':>7} | {'ok/s':>7} | "
          f"{'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"|{'-' * 24}|{'-' * 10}:|{'-' * 7}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|")
    for r in rows:
        print(f"| {r['name']:<22} | {r['requests']:>8} | {r['ok']:>6} | {r['seconds']:>7.2f} | "
              f"{r['rate']:>7.1f} | {r['p50']:>7.1f} | {r['p99']:>7.1f} |")
    ratio = rows[1]["rate"] / rows[0]["rate"]
    print(f"\nratings/s vs trivial view: {ratio:.0%} (goal >= 40%: {'met' if ratio >= 0.4 else 'NOT met'})")
    met = "met" if rows[3]["p99"] < 1000 else "NOT met"
    print(f"consent p99: {rows[3]['p99']:.0f} ms (goal < 1000 ms: {met}); "
          f"load average before the run {LOAD_BEFORE[0]:.1f}, now {os.getloadavg()[0]:.1f}")


def check(args, rows: list[dict], specs, accepted: dict) -> int:
    """0 when every check holds (printed), else 1 with the problems printed."""
    problems = verify(specs, accepted) + verify_enrolment(args)
    if rows[2]["ok"] != rows[2]["requests"]:
        problems.append(f"{rows[2]['requests'] - rows[2]['ok']} replayed ratings were not refused with 409")
    for row in rows[3:]:
        if row["ok"] != row["requests"]:
            problems.append(f"{row['name']}: {row['requests'] - row['ok']} requests not answered 302")
    if problems:
        print("\nCHECK FAILED:\n  " + "\n  ".join(problems[:20]))
        return 1
    print(f"check: {len(accepted)} accepted ratings, each stored exactly once with its score; "
          f"{rows[2]['ok']} replays refused; no other rating stored; {rows[3]['ok']} consents and "
          f"{rows[4]['ok']} of one worker: each crowd id enrolled once, arrival numbers distinct")
    return 0


if __name__ == "__main__":
    sys.exit(main())
