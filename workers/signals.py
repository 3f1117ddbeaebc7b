"""Signals the build sends in the worker process while it works, for observers there (the fault
tests hold a worker at one to kill it in the middle of a clip or a library chunk)."""

from django.dispatch import Signal

# Sent with `pk` once a stimulus (sender Stimulus) or a library chunk (sender EmbeddingChunk) is
# claimed, before the work itself (its heartbeat already runs in a worker).
work_claimed = Signal()
