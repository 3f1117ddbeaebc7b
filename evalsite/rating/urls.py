from django.urls import path

from . import views

app_name = "rating"
urlpatterns = [
    path("", views.home, name="home"),
    path("ping/", views.ping, name="ping"),
    path("s/<slug:slug>/", views.entry, name="entry"),
    path("s/<slug:slug>/audio-check/", views.audio_check, name="audio_check"),
    path("s/<slug:slug>/audio-check.wav", views.audio_check_clip, name="audio_check_clip"),
    path("s/<slug:slug>/instructions/", views.training, name="training"),
    path("s/<slug:slug>/rate/", views.rate, name="rate"),
    path("s/<slug:slug>/started/", views.started, name="started"),
    path("s/<slug:slug>/played/", views.played, name="played"),
    path("s/<slug:slug>/done/", views.done, name="done"),
    path("clip/<uuid:token>", views.clip, name="clip"),
]
