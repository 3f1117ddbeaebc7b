from django.contrib import admin

from .models import TrainedModel


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ("name", "variant", "checkpoint", "created_at")
    list_filter = ("variant",)
    readonly_fields = ("checkpoint_sha256", "config", "metrics", "created_at")
