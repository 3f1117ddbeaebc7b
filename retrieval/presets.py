"""Input presets: how a 6.4 s sample is turned into frames and a spectrogram.

`paper` is the paper's configuration (5 fps x 32 frames at 224x224, 48 kHz audio, 2048-point
STFT with hop 1024). `demo` is small enough to train every variant on a laptop CPU in minutes.
"""

from dataclasses import asdict, dataclass

WINDOW_SECONDS = 6.4  # every preset's sample: a shorter video is padded to it for embedding



@dataclass(frozen=True)
class Preset:
    name: str
    clip_seconds: float = WINDOW_SECONDS
    fps: float = 5.0
    frames: int = 32
    size: int = 224  # frames are size x size RGB
    sample_rate: int = 48_000
    n_fft: int = 2048
    hop: int = 1024

    @property
    def samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate)

    @property
    def stft_frames(self) -> int:
        # torch.stft with center=True
        return self.samples // self.hop + 1

    @property
    def freq_bins(self) -> int:
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict:
        return asdict(self)


# The one default preset of the commands (train, benchmark) and the library (TrainConfig,
# init_checkpoint, benchmark runs): the one that trains in minutes on a CPU. Pass "paper" for the
# paper's input sizes.
DEFAULT_PRESET = "demo"

PRESETS = {
    "paper": Preset("paper"),
    "demo": Preset("demo", size=64, sample_rate=16_000, n_fft=512, hop=256),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
