"""The researcher side's app configuration: it connects the file clean-up and the stopping rule."""

from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "evalsite.experiments"
    label = "experiments"
    verbose_name = "Experiments"

    def ready(self):
        from . import cleanup, stopping  # noqa: F401  (connect file deletion and the stopping rule)
