import numpy as np
import pytest

from retrieval.config import default_config
from retrieval.inputs import TrainingError, TrainSplit, batches, mixed_batches
from retrieval.presets import get_preset
from retrieval.train import fit


def _labels(n, with_se):
    has_se = np.zeros(n, bool)
    has_se[np.random.default_rng(1).permutation(n)[:with_se]] = True
    return has_se


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5, 0.75])
def test_it_fixes_the_share_of_samples_without_an_effect_in_every_batch(share):
    has_se = _labels(100, 40)
    plan = mixed_batches(has_se, 16, share, np.random.default_rng(0))
    assert len(plan) == 100 // 16  # the number of steps does not depend on the share
    for index in plan:
        assert len(index) == 16 and len(set(index.tolist())) == 16
        assert (~has_se[index]).sum() == round(share * 16)


def test_it_shows_every_sample_of_the_smaller_pool_before_repeating_one():
    has_se = _labels(100, 40)
    plan = mixed_batches(has_se, 16, 0.75, np.random.default_rng(0))  # 4 with an effect per batch
    seen = np.concatenate(plan)[has_se[np.concatenate(plan)]]
    assert len(seen) == 24 and len(set(seen.tolist())) == 24  # 24 of the 40, none twice
    plan = mixed_batches(has_se, 16, 0.25, np.random.default_rng(0))  # 12 per batch: 72 > 40
    counts = np.bincount(np.concatenate(plan)[has_se[np.concatenate(plan)]], minlength=100)[has_se]
    assert counts.min() >= 1 and counts.max() == 2


def test_it_splits_the_same_batches_between_ranks():
    has_se = _labels(96, 48)
    whole = mixed_batches(has_se, 8, 0.5, np.random.default_rng(3), rank=0, world=1)
    parts = [mixed_batches(has_se, 4, 0.5, np.random.default_rng(3), rank=r, world=2) for r in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == 96 // 2 // 4
    for a, b in zip(*parts, strict=True):
        assert not set(a.tolist()) & set(b.tolist())
        assert (~has_se[a]).sum() == (~has_se[b]).sum() == 2
    assert sum(len(b) for b in whole) == sum(len(a) + len(b) for a, b in zip(*parts, strict=True))


def test_it_draws_the_same_batches_from_the_same_seed():
    has_se = _labels(64, 20)
    a, b = (mixed_batches(has_se, 8, 0.5, np.random.default_rng([7, 2, 0])) for _ in range(2))
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert not all(
        (x == y).all() for x, y in zip(a, batches(64, 8, np.random.default_rng([7, 2, 0])), strict=True)
    )


def test_it_refuses_a_share_it_cannot_fill():
    with pytest.raises(TrainingError, match="0 samples without a sound effect"):
        mixed_batches(np.ones(20, bool), 8, 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no_se_share"):
        default_config("proposed", "demo", no_se_share=1.0)
    with pytest.raises(ValueError, match="triplet1"):
        default_config("triplet1", "demo", no_se_share=0.5)
    assert default_config("triplet1", "demo", no_se_share=0.0).no_se_share == 0.0


def test_training_with_a_fixed_share_runs_the_same_number_of_steps(tmp_path):
    rng = np.random.default_rng(0)
    preset = get_preset("demo")
    n = 40
    has_se = rng.random(n) < 0.5
    video = rng.normal(size=(n, 256, 8, 8, 8)).astype(np.float16)
    spec = rng.normal(size=(n, preset.freq_bins, preset.stft_frames)).astype(np.float32)
    split = TrainSplit(video, spec, has_se)
    config = default_config("triplet2", "demo", epochs=1, batch_size=8, no_se_share=0.25)
    summary = fit(config, split, split, tmp_path / "t2.pt", device="cpu", progress=False, log=lambda m: None)
    assert summary["config"]["no_se_share"] == 0.25 and summary["epochs"] == 1
