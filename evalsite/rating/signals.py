"""What the participant side announces to the layers above it (which it does not import)."""

from django.dispatch import Signal

# Sent once per participant, when they finish (keyword argument: experiment_id). The adaptive
# stopping rule listens (evalsite.experiments.stopping); a receiver must not fail the participant.
participant_finished = Signal()
