"""Exports of an experiment: its ratings as CSV, its analysis as JSON, and the manifest to rebuild it."""

import unicodedata
from collections import defaultdict

from django.utils import timezone

from evalsite.rating.models import Assignment

from . import attributes, provenance, screening
from .models import Experiment, Method, Stimulus
from .results import collect_results, rating_rows, rules_for, screening_records, was_played


def results_json(experiment: Experiment) -> dict:
    """The analysis of the results page as data: every attribute, the model relation, the looks."""
    results = collect_results(experiment, chart=False)
    return {
        "format": "sfx-eval-results/1",
        "generated_at": _iso(timezone.now()),
        "experiment": {"id": experiment.pk, "slug": experiment.slug, "title": experiment.title},
        "participants": results.participants,
        "kept": results.kept,
        "without_ratings": results.without_ratings,
        "attributes": [
            {
                "field": a.attribute.field,
                "name": a.attribute.name,
                "question": a.attribute.question,
                "methods": [
                    {"label": s.label, "n": s.n, "mos": s.mos, "sd": s.sd, "ci95": s.ci95}
                    for s in a.summaries
                ],
                "comparisons": [
                    {"a": c.a, "b": c.b, "u": c.u, "p": c.p, "p_holm": c.p_holm,
                     "rank_biserial": c.rank_biserial, "common_language": c.common_language}
                    for c in a.comparisons
                ],  # fmt: skip
            }
            for a in results.attributes
        ],
        "headphone_check": _headphone_json(experiment),
        "model": results.model,
        "stopping": {
            "rule": experiment.stopping_rule,
            "stopped_at": _iso(experiment.stopped_at),
            "reason": experiment.stop_reason,
            "looks": [
                {"number": look.number, "kept": look.kept, "information": look.information,
                 "stop": look.stop, "reason": look.reason, "details": look.details,
                 "at": _iso(look.created_at)}
                for look in experiment.looks.all()
            ],  # fmt: skip
        },
    }


def _headphone_json(experiment: Experiment) -> list[dict] | None:
    """Each participant's headphone check, or None when the experiment does not ask for it."""
    if not experiment.headphone_check:
        return None
    return [
        {"participant": p.pk, "result": headphone_result(p), "correct": p.headphone_check_correct,
         "attempts": p.headphone_check_attempts}
        for p in experiment.participants.order_by("pk")
    ]  # fmt: skip


CSV_COLUMNS = [
    "participant",
    "platform",
    "external_id",
    "excluded",
    "exclusion_reasons",
    "position",
    "stimulus",
    "role",
    "video",
    "method",
    "sound",
    "score",
    "expected_score",
    "played_to_end",
    "played_to_end_at",
    "shown_at",
    "rated_at",
    "time_on_page_ms",
    "play_count",
    "quality",
    "sync",
    "completion_code",  # the participant's own, given at the finish
    "headphone_check",  # passed, failed or not taken; empty when the experiment does not ask for it
    "headphone_check_correct",  # right answers in the last attempt, of headphonecheck.TRIALS
]


def csv_rows(experiment: Experiment):
    ratings = list(rating_rows(experiment))
    verdicts = screening.screen(screening_records(experiment, ratings), rules_for(experiment))
    yield CSV_COLUMNS
    for r in ratings:
        a, s = r.assignment, r.assignment.stimulus
        p = a.participant
        yield [
            p.pk,
            _cell(p.platform),
            _cell(p.external_id),
            int(bool(verdicts[p.pk])),
            _cell(" | ".join(verdicts[p.pk])),
            a.position,
            s.token,
            s.role,
            _cell(s.video.name),
            _cell(s.method.label if s.method else ""),
            _cell(s.sound.name if s.sound else ""),
            r.score,
            s.expected_score if s.expected_score is not None else "",
            int(was_played(r)),
            _iso(a.played_to_end_at),
            _iso(a.shown_at),
            _iso(r.created_at),
            r.time_on_page_ms if r.time_on_page_ms is not None else "",
            a.play_count,
            *(getattr(r, attribute.field) or "" for attribute in attributes.OPTIONAL),
            p.completion_code,
            *_headphone_cells(experiment, p),
        ]


def headphone_result(participant) -> str:
    return {True: "passed", False: "failed", None: "not taken"}[participant.headphone_check_passed]


def _headphone_cells(experiment: Experiment, participant) -> list:
    if not experiment.headphone_check:
        return ["", ""]
    correct = participant.headphone_check_correct
    return [headphone_result(participant), "" if correct is None else correct]


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (crowd ids come from the entry link).

    Spreadsheets read full-width signs as ASCII ones and skip leading blanks, so the check is on
    the first non-blank character after NFKC normalisation; a cell with a line break is guarded too.
    """
    normal = unicodedata.normalize("NFKC", text)
    if normal.lstrip()[:1] in ("=", "+", "-", "@") or "\n" in normal or "\r" in normal:
        return "'" + text
    return text


def _iso(value):
    return value.isoformat() if value else ""


CONFIG_FIELDS = [
    "title",
    "slug",
    "instructions",
    "status",
    "mux_mode",
    "overlay_gain_db",
    "duck_db",
    "loudness_lufs",
    "design",
    "clips_per_participant",
    "gold_clips",
    "trap_clips",
    "training_clips",
    "participants_wanted",
    "completion_code",
    "redirect_url",
    "seed",
    "screen_audio_check",
    "headphone_check",
    "screen_max_gold_failures",
    "screen_max_trap_failures",
    "screen_min_score_sd",
    "screen_max_unplayed",
    "ask_quality",
    "ask_sync",
    "stopping_rule",
    "look_every",
    "planned_comparisons",
    "target_ci_half_width",
]


def manifest(experiment: Experiment) -> dict:
    """Everything needed to rebuild and re-analyse the study: config, models, media, stimuli, lists."""
    library = experiment.sound_library
    return {
        "format": "sfx-eval-manifest/1",
        "generated_at": _iso(timezone.now()),
        "experiment": {"id": experiment.pk, **{name: getattr(experiment, name) for name in CONFIG_FIELDS}},
        "opened_at": _iso(experiment.opened_at),
        "closed_at": _iso(experiment.closed_at),
        "methods": [_method_entry(m) for m in experiment.methods.select_related("trained_model")],
        "videos": [
            {
                "id": v.pk,
                "name": v.name,
                "sha256": v.sha256,
                "duration": v.duration,
                "effect_onset": v.effect_onset,
            }
            for v in experiment.videos.all()
        ],
        "sound_library": None
        if library is None
        else {
            "name": library.name,
            "fingerprint": provenance.library_fingerprint(library),
            "sounds": list(library.sounds.values("id", "name", "sha256", "sound_class", "duration", "onset")),
        },
        "stimuli": [
            _stimulus_entry(s) for s in experiment.stimuli.select_related("video", "method", "sound")
        ],
        "assignments": _assignment_lists(experiment),
    }


def _method_entry(method: Method) -> dict:
    entry = {"label": method.label, "kind": method.kind, "order": method.order}
    model = method.trained_model
    if model is not None:
        entry["hubness"] = method.hubness  # how its top-1 sounds were chosen (retrieval/hubness.py)
        entry["trained_model"] = {
            "name": model.name,
            "variant": model.variant,
            "checkpoint": model.checkpoint,
            "checkpoint_sha256": model.checkpoint_sha256,
            "config": model.config,
            "metrics": model.metrics,
        }
    if method.kind == Method.Kind.IMPORTED:  # what the outside system gave, file by file
        entry["imported"] = [
            {"video": o.video.name, "form": o.form, "source": o.source, "sha256": o.sha256,
             "sound": o.sound.name if o.sound else None}
            for o in method.outputs.select_related("video", "sound")
        ]  # fmt: skip
    return entry


def _stimulus_entry(s: Stimulus) -> dict:
    return {
        "token": str(s.token),
        "role": s.role,
        "video": s.video.name,
        "video_sha256": s.video.sha256,
        "method": s.method.label if s.method else None,
        "control_kind": s.control_kind,
        "sound": s.sound.name if s.sound else None,
        "sound_sha256": s.sound.sha256 if s.sound else None,
        "rank": s.rank,
        "distance": s.distance,
        "sound_offset": s.sound_offset,
        "expected_score": s.expected_score,
        "status": s.status,
        "label": s.label,
        "built_from": s.built_from,  # the settings that decided the clip (experiments.provenance)
    }


def _assignment_lists(experiment: Experiment) -> list[dict]:
    lists = defaultdict(list)
    rows = Assignment.objects.filter(participant__experiment=experiment).order_by(
        "participant_id", "position"
    )
    for participant_id, token in rows.values_list("participant_id", "stimulus__token"):
        lists[participant_id].append(str(token))
    return [{"participant": pk, "stimuli": tokens} for pk, tokens in lists.items()]
