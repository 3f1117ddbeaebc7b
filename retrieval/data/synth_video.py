"""Pictures of the synthetic benchmark: non-target scenes and the visual effects.

Scenes (a talking head whose mouth follows the speech, a panning camera during music, a street
for ambience) are muted; visual effects are large, bright and differ per class in both colour and
motion, so a small frozen video network can tell them apart. Frames are float32 [H, W, 3] in 0..1.
"""

import numpy as np
from scipy.ndimage import zoom

WIDTH, HEIGHT, FPS = 192, 108, 10  # 16:9 like TV; 10 fps is enough for 5 fps models

# visual kind -> colour of its class; the synthetic sound classes pair with these in order
KINDS = ("flash", "wipe", "zoom", "shake", "sparkle", "caption")
PALETTE = [(1.0, 1.0, 1.0), (1.0, 0.1, 0.1), (0.1, 1.0, 0.2), (0.15, 0.3, 1.0), (1.0, 0.95, 0.2),
           (1.0, 0.1, 0.9), (0.1, 0.95, 0.95), (1.0, 0.55, 0.0), (0.6, 0.2, 1.0), (0.6, 1.0, 0.0),
           (1.0, 0.6, 0.7), (0.0, 0.5, 1.0)]

_Y, _X = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)


def muted(rng, lo=0.12, hi=0.45) -> np.ndarray:
    return rng.uniform(lo, hi, 3).astype(np.float32)


class TalkScene:
    """A presenter: head and shoulders before a plain wall; the mouth opens with the speech envelope."""

    def __init__(self, rng, envelope):
        self.envelope = envelope  # t (seconds, absolute) -> 0..1
        img = np.empty((HEIGHT, WIDTH, 3), np.float32)
        img[:] = muted(rng)
        cx, cy = WIDTH / 2 + rng.uniform(-40, 40), HEIGHT * 0.42
        skin = np.array([rng.uniform(0.45, 0.8), rng.uniform(0.32, 0.6), rng.uniform(0.25, 0.45)], np.float32)
        img[((_X - cx) / 42) ** 2 + ((_Y - HEIGHT) / 30) ** 2 < 1] = muted(rng, 0.05, 0.3)  # shoulders
        img[((_X - cx) / 20) ** 2 + ((_Y - cy) / 27) ** 2 < 1] = skin
        for ex in (cx - 8, cx + 8):
            img[((_X - ex) / 3) ** 2 + ((_Y - cy + 6) / 2) ** 2 < 1] = 0.05
        self.img, self.mouth = img, (cx, cy + 12)

    def frame(self, t: float) -> np.ndarray:
        out = self.img.copy()
        cx, cy = self.mouth
        opening = 0.7 + 6 * float(self.envelope(t))
        out[((_X - cx) / 7) ** 2 + ((_Y - cy) / opening) ** 2 < 1] = (0.25, 0.02, 0.05)
        return out


class MusicScene:
    """A camera panning over a landscape texture while music plays."""

    def __init__(self, rng, texture, t0: float):
        self.texture, self.t0 = texture, t0
        speed = rng.uniform(15, 40)
        angle = rng.uniform(0, 2 * np.pi)
        self.v = speed * np.array([np.cos(angle), np.sin(angle)])
        self.p0 = rng.uniform(0, [texture.shape[1] / 2, texture.shape[0] / 2])

    def frame(self, t: float) -> np.ndarray:
        th, tw = self.texture.shape[0] // 2, self.texture.shape[1] // 2
        x, y = (self.p0 + self.v * (t - self.t0)).astype(int)
        x, y = x % tw, y % th
        return self.texture[y:y + HEIGHT, x:x + WIDTH].copy()


class AmbienceScene:
    """A street: sky, ground, and a few slow cars."""

    def __init__(self, rng, t0: float):
        img = np.empty((HEIGHT, WIDTH, 3), np.float32)
        horizon = int(HEIGHT * rng.uniform(0.45, 0.65))
        shade = np.linspace(0.8, 1.0, horizon, dtype=np.float32)[:, None, None]
        img[:horizon] = muted(rng, 0.3, 0.55) * shade
        img[horizon:] = muted(rng, 0.1, 0.3)
        self.img, self.t0, self.horizon = img, t0, horizon
        self.cars = [(rng.uniform(0, WIDTH), rng.uniform(-25, 25), muted(rng, 0.1, 0.5)) for _ in range(3)]

    def frame(self, t: float) -> np.ndarray:
        out = self.img.copy()
        for k, (x0, v, colour) in enumerate(self.cars):
            x = int((x0 + v * (t - self.t0)) % (WIDTH + 30)) - 30
            y = self.horizon + 4 + 10 * k
            out[y:y + 8, max(x, 0):max(x + 24, 0)] = colour
        return out


def landscape(rng) -> np.ndarray:
    """A smooth random texture twice the frame size, tiled 2x2 so any pan window fits."""
    h, w = HEIGHT * 2, WIDTH * 2
    coarse = rng.uniform(0.1, 0.5, (h // 32 + 2, w // 32 + 2, 3)).astype(np.float32)
    tex = zoom(coarse, (32, 32, 1), order=1)[:h, :w]  # smooth hills of colour
    tex += 0.06 * np.sin(_band(h, w, rng))[..., None]
    return np.tile(np.clip(tex, 0, 1), (2, 2, 1))


def _band(h, w, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return (x * rng.uniform(0.05, 0.2) + y * rng.uniform(0.05, 0.2)).astype(np.float32)


class Effect:
    """One visual-effect instance of a kind and colour; `apply` draws it at `t` seconds after onset."""

    def __init__(self, kind: str, colour, duration: float, rng):
        self.kind, self.duration = kind, duration
        self.colour = np.clip(np.asarray(colour, np.float32) * rng.uniform(0.85, 1.0), 0, 1)
        self.rng = rng
        self.direction = 1 if rng.random() < 0.5 else -1
        self.width = WIDTH * rng.uniform(0.35, 0.5)
        self.centre = (rng.uniform(0.3, 0.7) * WIDTH, rng.uniform(0.3, 0.7) * HEIGHT)
        self.stars = np.stack([rng.integers(3, HEIGHT - 3, 60), rng.integers(3, WIDTH - 3, 60)], 1)
        self.amplitude = rng.uniform(6, 12)
        self.text = [(rng.uniform(0.1, 0.3), rng.uniform(0.5, 0.9)) for _ in range(2)]

    def apply(self, img: np.ndarray, t: float) -> np.ndarray:
        p = min(max(t / self.duration, 0.0), 1.0)
        return getattr(self, f"_{self.kind}")(img, p, t)

    def _flash(self, img, p, t):
        a = 0.95 * (1 - p) ** 0.7
        return img * (1 - a) + self.colour * a

    def _wipe(self, img, p, t):
        x = -self.width + p * (WIDTH + 2 * self.width)
        x = x if self.direction > 0 else WIDTH - x
        lo, hi = int(max(x - self.width / 2, 0)), int(min(x + self.width / 2, WIDTH))
        img[:, lo:hi] = img[:, lo:hi] * 0.1 + self.colour * 0.9
        return img

    def _zoom(self, img, p, t):
        cx, cy = self.centre
        mask = (_X - cx) ** 2 + (_Y - cy) ** 2 < (p * 1.2 * WIDTH) ** 2
        img[mask] = img[mask] * 0.15 + self.colour * 0.85
        return img

    def _shake(self, img, p, t):
        dy, dx = self.rng.integers(-int(self.amplitude), int(self.amplitude) + 1, 2)
        img = np.roll(img, (int(dy), int(dx)), axis=(0, 1)) * 0.6 + self.colour * 0.4
        b = HEIGHT // 4
        for region in (img[:b], img[-b:], img[:, :b], img[:, -b:]):
            region[:] = region * 0.2 + self.colour * 0.8
        return img

    def _sparkle(self, img, p, t):
        stars = self.stars[self.rng.random(len(self.stars)) < 0.6]
        for dy in range(-2, 3):
            for dx in range(-2 + abs(dy), 3 - abs(dy)):  # a diamond 5 px across
                img[stars[:, 0] + dy, stars[:, 1] + dx] = self.colour
        return img

    def _caption(self, img, p, t):
        grow = min(t / 0.2, 1.0)  # pops in over 0.2 s
        half = 0.45 * WIDTH * grow
        y0, y1 = int(HEIGHT * 0.58), int(HEIGHT * 0.95)
        x0, x1 = int(WIDTH / 2 - half), int(WIDTH / 2 + half)
        img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * 0.05 + self.colour * 0.95
        if grow >= 1:
            for k, (start, length) in enumerate(self.text):
                ty = y0 + 5 + 12 * k
                tx = int(x0 + start * (x1 - x0))
                img[ty:ty + 6, tx:tx + int(length * (x1 - x0) * 0.7)] = 0.05
        return img
