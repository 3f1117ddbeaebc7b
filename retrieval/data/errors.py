"""Errors of the dataset tools. Messages name the file and, for tabular input, the row."""


class DatasetError(ValueError):
    """A dataset, manifest or annotation file is not usable as it stands."""


class MediaError(DatasetError):
    """A media file cannot be decoded as needed (unreadable, no stream of the kind, too short)."""
