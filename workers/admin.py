"""Read-only progress of library embeddings in the admin."""

from django.contrib import admin

from workers.models import EmbeddingChunk, EmbeddingRun


class ChunkInline(admin.TabularInline):
    model = EmbeddingChunk
    fields = readonly_fields = ("index", "sounds", "attempts", "worker", "seconds", "done_at")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EmbeddingRun)
class EmbeddingRunAdmin(admin.ModelAdmin):
    list_display = ["library", "model_name", "sounds", "progress", "created_at", "finished_at"]
    list_filter = ["library"]
    readonly_fields = ["library", "model_sha256", "library_hash", "sounds", "chunk_size", "created_at",
                       "finished_at", "error"]
    inlines = [ChunkInline]

    @admin.display(description="model")
    def model_name(self, run):
        return run.model_sha256[:12]

    @admin.display(description="chunks done")
    def progress(self, run):
        return f"{run.chunks_done} / {run.chunks.count()}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
