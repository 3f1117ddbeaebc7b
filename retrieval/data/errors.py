"""Errors of the dataset tools. Messages name the file and, for tabular input, the row.

A media file that cannot be decoded as needed (unreadable, no stream of the kind, too short) is a
`media.MediaError`, re-exported here.
"""

from media import MediaError

__all__ = ["DatasetError", "MediaError"]


class DatasetError(ValueError):
    """A dataset, manifest or annotation file is not usable as it stands."""
