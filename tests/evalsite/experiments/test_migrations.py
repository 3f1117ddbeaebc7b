"""Data migrations on a real database: rows stored before a change keep their meaning."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE, AFTER = ("experiments", "0006_method_hubness"), ("experiments", "0007_stimulus_control_kind")


@pytest.mark.django_db(transaction=True)
def test_training_clips_built_before_the_field_get_their_kind_from_the_label():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    apps = executor.loader.project_state([BEFORE]).apps
    Experiment, Video = apps.get_model("experiments", "Experiment"), apps.get_model("experiments", "Video")
    Stimulus = apps.get_model("experiments", "Stimulus")
    exp = Experiment.objects.create(title="Old", slug="old")
    video = Video.objects.create(name="v", file="videos/v.mp4")
    labels = {"training 1: original": "original", "training 2: random": "random",
              "training 3: gold": "gold", "training 4: something else": ""}
    for label in labels:
        Stimulus.objects.create(experiment=exp, video=video, role="training", label=label)
    Stimulus.objects.create(experiment=exp, video=video, role="gold", label="gold 1: harsh noise")
    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])
    Stimulus = executor.loader.project_state([AFTER]).apps.get_model("experiments", "Stimulus")
    kinds = dict(Stimulus.objects.values_list("label", "control_kind"))
    assert kinds == {**labels, "gold 1: harsh noise": ""}
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_methods_stored_before_the_assign_default_keep_their_option():
    before = ("experiments", "0009_stimulus_built_from")
    after = ("experiments", "0010_method_hubness_assign_by_default")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    apps = executor.loader.project_state([before]).apps
    Experiment, Method = apps.get_model("experiments", "Experiment"), apps.get_model("experiments", "Method")
    exp = Experiment.objects.create(title="Old", slug="old")
    Method.objects.create(experiment=exp, kind="random", label="old")
    executor = MigrationExecutor(connection)
    executor.migrate([after])
    Method = executor.loader.project_state([after]).apps.get_model("experiments", "Method")
    Method.objects.create(experiment_id=exp.pk, kind="random", label="new")
    assert dict(Method.objects.values_list("label", "hubness")) == {"old": "none", "new": "assign"}
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
