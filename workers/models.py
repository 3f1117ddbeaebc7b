"""Progress of the chunked embedding of a sound library (one gpu task per chunk)."""

from django.db import models


class EmbeddingRun(models.Model):
    """A sound library embedded with one model, chunk by chunk. One row per library contents
    and model: a rebuild after a killed worker finds it and embeds only the missing chunks."""

    library = models.ForeignKey("experiments.SoundLibrary", on_delete=models.CASCADE,
                                related_name="embedding_runs")
    model_sha256 = models.CharField(max_length=64)
    library_hash = models.CharField(max_length=64, help_text="Of the library's (sound id, sha256) pairs.")
    sounds = models.PositiveIntegerField()
    chunk_size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When the library's file was assembled.")
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["library", "model_sha256", "library_hash"],
                                               name="one_embedding_run_per_library_and_model")]
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.library} with {self.model_sha256[:12]}"

    @property
    def chunks_done(self) -> int:
        return self.chunks.filter(done_at__isnull=False).count()


class EmbeddingChunk(models.Model):
    """Sounds first_pk..last_pk of the library (by primary key), embedded by one task."""

    run = models.ForeignKey(EmbeddingRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_pk = models.BigIntegerField()
    last_pk = models.BigIntegerField()
    sounds = models.PositiveIntegerField()
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="one_chunk_per_index")]
        ordering = ["run", "index"]

    def __str__(self):
        return f"{self.run} chunk {self.index + 1}"
