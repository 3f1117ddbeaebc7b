from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "evalsite.experiments"
    label = "experiments"
    verbose_name = "Experiments"
