from django.urls import path

from . import views

app_name = "experiments"
urlpatterns = [
    path("experiments/<int:pk>/results/", views.results, name="results"),
    path("experiments/<int:pk>/ratings.csv", views.export_csv, name="export_csv"),
    path("experiments/<int:pk>/plan/", views.plan, name="plan"),
    path("experiments/<int:pk>/results.json", views.export_results, name="export_results"),
    path("experiments/<int:pk>/manifest.json", views.export_manifest, name="export_manifest"),
    path("experiments/<int:pk>/progress.json", views.progress, name="progress"),
    path("stimuli/<uuid:token>/media", views.stimulus_media, name="stimulus_media"),
]
