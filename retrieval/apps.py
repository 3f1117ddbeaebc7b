"""The retrieval app's configuration: the TrainedModel registry and the model commands."""

from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "retrieval"
    verbose_name = "Retrieval models"
