"""Celery tasks that build evaluation clips: embed sound libraries, retrieve, mux."""
