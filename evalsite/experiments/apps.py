from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "evalsite.experiments"
    label = "experiments"
    verbose_name = "Experiments"

    def ready(self):
        from . import stopping  # noqa: F401  (connects the stopping rule to participant_finished)
