"""The participant side's app configuration."""

from django.apps import AppConfig


class RatingConfig(AppConfig):
    name = "evalsite.rating"
    label = "rating"
    verbose_name = "Ratings"
