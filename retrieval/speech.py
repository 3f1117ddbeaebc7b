"""Text to speech with espeak-ng, for synthetic talking heads, audio checks and trapping clips.

espeak-ng is a system package (`apt-get install espeak-ng`); callers that can do without speech
check `espeak_available()` and fall back, the others get a SpeechUnavailable naming the fix.
"""

import io
import shutil
import subprocess

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly


class SpeechUnavailable(RuntimeError):
    pass


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, sample_rate: int, voice: str = "en", words_per_minute: int = 160,
          pitch: int = 50) -> np.ndarray:
    """Speaks `text` and returns mono float32 samples in [-1, 1] at `sample_rate`."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechUnavailable("espeak-ng is not installed (apt-get install -y espeak-ng)")
    result = subprocess.run(
        [exe, "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), "--stdout", text],
        capture_output=True, timeout=60, check=False,
    )
    if result.returncode != 0 or not result.stdout:
        raise SpeechUnavailable(f"espeak-ng failed: {result.stderr.decode(errors='replace').strip()}")
    # espeak-ng writes a WAV whose size fields are left unset when streaming: fix them up.
    data = bytearray(result.stdout)
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    data[40:44] = (len(data) - 44).to_bytes(4, "little")
    rate, samples = wavfile.read(io.BytesIO(bytes(data)))
    wave = samples.astype(np.float32) / 32768.0
    if wave.ndim > 1:
        wave = wave.mean(axis=1)
    if rate != sample_rate:
        g = np.gcd(rate, sample_rate)
        wave = resample_poly(wave, sample_rate // g, rate // g).astype(np.float32)
    return wave
