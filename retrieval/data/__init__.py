"""Datasets: manifests, decoding, cached preprocessing, segmentation and a synthetic benchmark.

Plain Python (numpy, PyAV through the `media` module, torch for the STFT); no Django imports.
"""

from media import decode_audio, probe

from .cache import SplitData, load_split
from .decode import decode_video
from .errors import DatasetError, MediaError
from .manifest import ManifestRow, read_manifest

__all__ = [
    "DatasetError", "ManifestRow", "MediaError", "SplitData", "decode_audio", "decode_video", "load_split",
    "probe", "read_manifest",
]
