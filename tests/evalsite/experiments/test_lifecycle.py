"""The life cycle on the model: of two researchers opening or closing at once, one wins."""

import pytest

from evalsite.experiments import actions
from evalsite.experiments.models import Experiment

pytestmark = pytest.mark.django_db


def test_it_opens_and_closes_once_when_two_pages_click_at_once(make_experiment):
    experiment = make_experiment()
    stale_page = Experiment.objects.get(pk=experiment.pk)  # read before the other click
    actions.open_experiment(experiment)
    opened_at = Experiment.objects.get(pk=experiment.pk).opened_at
    with pytest.raises(actions.ActionRefused, match="'Study study' changed meanwhile; reload the page"):
        actions.open_experiment(stale_page)
    assert stale_page.status == "draft" and Experiment.objects.get(pk=experiment.pk).opened_at == opened_at

    stale_page = Experiment.objects.get(pk=experiment.pk)
    actions.close_experiment(experiment)
    with pytest.raises(actions.ActionRefused, match="changed meanwhile"):
        actions.close_experiment(stale_page)
    assert Experiment.objects.get(pk=experiment.pk).status == "closed"


def test_it_names_why_the_status_forbids_a_move(make_experiment):
    experiment = make_experiment()
    assert experiment.status_problem(Experiment.Status.CLOSED) == "'Study study' is not open"
    assert experiment.status_problem(Experiment.Status.OPEN) == ""
    assert experiment.move_to(Experiment.Status.OPEN) and experiment.status == "open"
    assert experiment.status_problem(Experiment.Status.OPEN) == "'Study study' is already open"
    assert experiment.setup_problems() == ["'Study study' is open: only a draft can be built"]
