"""The admin of trained models, registered through retrieval.registry."""

from django import forms
from django.contrib import admin

from .models import TrainedModel
from .registry import checkpoint_facts

FROM_CHECKPOINT = ("variant", "preset", "checkpoint_sha256", "config", "metrics")


class TrainedModelForm(forms.ModelForm):
    """A name and a checkpoint path; everything else is read from the loaded checkpoint."""

    class Meta:
        model = TrainedModel
        fields = ["name", "checkpoint"]
        help_texts = {
            "checkpoint": "Path of the checkpoint file on the workers' shared disk; it is loaded now."
        }

    def clean_checkpoint(self):
        from .checkpoint import CheckpointError  # torch: only when a checkpoint is registered

        path = self.cleaned_data["checkpoint"].strip()
        try:
            self.facts = checkpoint_facts(path)
        except CheckpointError as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.facts["checkpoint"]

    def save(self, commit=True):
        row = super().save(commit=False)
        for key in FROM_CHECKPOINT:
            setattr(row, key, self.facts[key])
        if commit:
            row.save()
        return row


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    form = TrainedModelForm
    list_display = ("name", "variant", "preset", "validation", "short_sha256")
    list_filter = ("variant",)
    search_fields = ("name", "checkpoint", "checkpoint_sha256")
    readonly_fields = (*FROM_CHECKPOINT, "created_at")

    @admin.display(description="validation acc_rank")
    def validation(self, obj):
        value = ((obj.metrics or {}).get("valid") or {}).get("acc_rank")
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return obj.checkpoint_sha256[:12]
