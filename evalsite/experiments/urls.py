"""The researcher's staff-only pages: results, exports, manifest, planner, build progress, media."""

from django.urls import include, path

from . import views

app_name = "experiments"
experiment_urls = [
    path("results/", views.results, name="results"),
    path("ratings.csv", views.export_csv, name="export_csv"),
    path("plan/", views.plan, name="plan"),
    path("results.json", views.export_results, name="export_results"),
    path("manifest.json", views.export_manifest, name="export_manifest"),
    path("progress.json", views.progress, name="progress"),
]
urlpatterns = [
    path("experiments/<int:pk>/", include(experiment_urls)),
    path("stimuli/<uuid:token>/media", views.stimulus_media, name="stimulus_media"),
]
