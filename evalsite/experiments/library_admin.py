"""The admin of the media a study is made of: videos, sounds and sound libraries, with checked uploads."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .forms import SoundForm, VideoForm
from .library import Sound, SoundLibrary, Video


def seconds_text(duration: float | None) -> str:
    """'7.60 s', never '7.599999999999999'."""
    return "–" if duration is None else f"{duration:.2f} s"


class DurationAdmin(admin.ModelAdmin):
    """Shows a row's duration as people read it, as the column or read-only field "seconds"."""

    @admin.display(ordering="duration", description="duration")
    def seconds(self, obj) -> str:
        return seconds_text(obj.duration)


MEDIA_FACTS = ["sha256", "seconds", "created_at"]


@admin.register(Video)
class VideoAdmin(DurationAdmin):
    form = VideoForm
    list_display = ["name", "seconds", "width", "height", "fps", "has_audio", "effect_onset"]
    search_fields = ["name", "source", "sha256"]
    readonly_fields = [*MEDIA_FACTS, "width", "height", "fps", "has_audio"]


@admin.register(Sound)
class SoundAdmin(DurationAdmin):
    form = SoundForm
    list_display = ["name", "library", "sound_class", "seconds", "sample_rate"]
    list_filter = ["library", "sound_class"]
    search_fields = ["name", "sound_class", "sha256"]
    readonly_fields = [*MEDIA_FACTS, "sample_rate"]


LIBRARY_LISTED = 200  # sounds listed on a library's page; the Sounds list, filtered, has them all


@admin.register(SoundLibrary)
class SoundLibraryAdmin(admin.ModelAdmin):
    list_display = ["name", "sound_count", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["sound_list"]

    @admin.display(description="sounds")
    def sound_list(self, obj):
        """The library's sounds, each a link to its page, and a link to all of them in the Sounds list."""
        count = obj.sounds.count() if obj.pk else 0
        if not count:
            return "No sounds yet: import them with manage.py import_media or add them under Sounds."
        rows = format_html_join(
            "",
            '<tr><td class="name"><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (reverse("admin:experiments_sound_change", args=[s.pk]), s.name, s.sound_class or "–",
                 seconds_text(s.duration), s.sample_rate or "–")
                for s in obj.sounds.order_by("name")[:LIBRARY_LISTED]
            ),
        )  # fmt: skip
        every = reverse("admin:experiments_sound_changelist") + f"?library__id__exact={obj.pk}"
        cut = f" (the first {LIBRARY_LISTED} by name are listed here)" if count > LIBRARY_LISTED else ""
        return format_html(
            '<table id="library-sounds"><thead><tr><th>name</th><th>class</th><th>duration</th>'
            "<th>sample rate</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All {} sounds of this library</a>{}</p>',
            rows, every, count, cut,
        )  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sound_count=Count("sounds"))

    @admin.display(ordering="sound_count", description="sounds")
    def sound_count(self, obj):
        return obj.sound_count
