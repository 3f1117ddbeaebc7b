"""The participant's pages: a study's steps under /s/<slug>/, its clips, the home page."""

from django.urls import include, path

from . import views

app_name = "rating"
# A study's pages, below /s/<slug>/: entry (consent), the audio and headphone checks, instructions,
# the rating loop.
study_urls = [
    path("", views.entry, name="entry"),
    path("audio-check/", views.audio_check, name="audio_check"),
    path("audio-check.wav", views.audio_check_clip, name="audio_check_clip"),
    path("headphone-check/", views.headphone_check, name="headphone_check"),
    path("headphone-check/<int:trial>.wav", views.headphone_check_clip, name="headphone_check_clip"),
    path("instructions/", views.training, name="training"),
    path("rate/", views.rate, name="rate"),
    path("started/", views.started, name="started"),
    path("played/", views.played, name="played"),
    path("done/", views.done, name="done"),
]
urlpatterns = [
    path("", views.home, name="home"),
    path("ping/", views.ping, name="ping"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("s/<slug:slug>/", include(study_urls)),
    path("clip/<uuid:token>", views.clip, name="clip"),
]
