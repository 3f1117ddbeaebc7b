import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.losses import (
    CrossModalLoss,
    awareness_loss,
    inter_modal_loss,
    intra_modal_loss,
    margin_at,
    semihard_negatives,
    triplet,
)

VIDEO = torch.tensor([[0.0], [10.0], [20.0]])
AUDIO = torch.tensor([[1.0], [11.5], [20.0]])


def test_it_computes_the_triplet_of_eq1_per_row():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    n = torch.tensor([[0.0, 1.0], [0.0, 5.0]])
    torch.testing.assert_close(triplet(a, p, n, 1.0), torch.tensor([5.0, 0.0]))


def test_it_sums_inter_modal_triplets_with_the_hardest_semihard_negative():
    # hand-worked: video anchors 4.5 + 7.5 + 6.5, audio anchors 7 + 8 + 5
    loss = inter_modal_loss(VIDEO, AUDIO, 15.0, negative="hardest")
    assert loss.item() == pytest.approx(38.5)


def test_it_draws_random_semihard_negatives_reproducibly():
    seen = set()
    for seed in range(40):
        loss = inter_modal_loss(VIDEO, AUDIO, 15.0, generator=torch.Generator().manual_seed(seed)).item()
        again = inter_modal_loss(VIDEO, AUDIO, 15.0, generator=torch.Generator().manual_seed(seed)).item()
        assert loss == again
        seen.add(round(loss, 4))
    # anchors v1 and a1 each have two semi-hard negatives: four possible sums, all drawn
    assert seen == {38.5, 37.5, 35.5, 34.5}


def test_it_gives_zero_for_anchors_without_semihard_negatives_and_counts_them():
    stats = {}
    loss = inter_modal_loss(VIDEO, AUDIO, 2.0, stats=stats)
    assert loss.item() == 0.0
    assert stats == {"anchors": 6, "no_negative": 6}


def test_it_takes_the_nearest_sample_as_intra_modal_positive():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # per modality: 1 + 2 + 2 + 1 (worked by hand); the audio copy is shifted, same structure
    loss = intra_modal_loss(x, x + 100.0, 3.0, negative="hardest")
    assert loss.item() == pytest.approx(12.0)
    assert intra_modal_loss(x, x, 3.0, negative="hardest", reduction="mean").item() == pytest.approx(12.0 / 8)


def test_it_computes_the_awareness_bce_of_eq5():
    p_video, p_audio = torch.tensor([0.9, 0.2]), torch.tensor([0.6, 0.5])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6) + math.log(0.5))
    assert awareness_loss(p_video, p_audio, torch.tensor([1, 0])).item() == pytest.approx(expected, rel=1e-6)


def test_it_grows_the_margin_exponentially():
    assert margin_at(0, 40) == 1.0
    assert margin_at(20, 40) == pytest.approx(math.sqrt(10))
    assert margin_at(40, 40) == pytest.approx(10.0)


def test_it_normalises_triplet_losses_by_the_margin():
    out = {"video": VIDEO, "audio": AUDIO, "p_video": torch.tensor([0.9, 0.2, 0.5]),
           "p_audio": torch.tensor([0.6, 0.5, 0.5])}
    total, parts = CrossModalLoss(negative="hardest")(out, torch.tensor([1, 0, 1]), 15.0)
    expected = (parts["inter"] + 0.1 * parts["intra"]) / 15.0 + parts["aware"]
    assert total.item() == pytest.approx(expected.item())
    assert parts["inter"].item() == pytest.approx(38.5)


def test_it_keeps_gradients_finite_for_identical_embeddings():
    video = torch.zeros(4, 8, requires_grad=True)
    audio = torch.zeros(4, 8, requires_grad=True)
    (inter_modal_loss(video, audio, 1.0) + intra_modal_loss(video, audio, 1.0)).backward()
    assert torch.isfinite(video.grad).all() and torch.isfinite(audio.grad).all()


def _brute_semihard(dist, d_pos, margin, exclude):
    return [
        [j for j in range(dist.shape[1]) if not exclude[i, j] and d_pos[i] < dist[i, j] < d_pos[i] + margin]
        for i in range(dist.shape[0])
    ]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 12), dim=st.integers(1, 4), margin=st.floats(0.05, 3.0), seed=st.integers(0, 10_000))
def test_it_mines_exactly_the_semihard_set_of_a_brute_force_reference(n, dim, margin, seed):
    rng = np.random.default_rng(seed)
    video = torch.tensor(rng.normal(size=(n, dim)))
    audio = torch.tensor(rng.normal(size=(n, dim)))
    dist = torch.cdist(video, audio, compute_mode="donot_use_mm_for_euclid_dist")
    d_pos = dist.diagonal()
    eye = torch.eye(n, dtype=torch.bool)
    allowed = _brute_semihard(dist.numpy(), d_pos.numpy(), margin, eye.numpy())

    index, found = semihard_negatives(dist, d_pos, margin, eye, "random", torch.Generator().manual_seed(seed))
    hardest, _ = semihard_negatives(dist, d_pos, margin, eye, "hardest")
    expected_loss = 0.0
    for i, cands in enumerate(allowed):
        assert bool(found[i]) == bool(cands)
        if cands:
            assert int(index[i]) in cands
            best = min(cands, key=lambda j: dist[i, j])
            assert int(hardest[i]) == best
            expected_loss += float(d_pos[i] - dist[i, best] + margin)
    # the video-anchor half of eq. 2, recomputed by the loss from the embeddings
    rev = _brute_semihard(dist.T.numpy(), d_pos.numpy(), margin, eye.numpy())
    for i, cands in enumerate(rev):
        if cands:
            best = min(cands, key=lambda j: dist[j, i])
            expected_loss += float(d_pos[i] - dist[best, i] + margin)
    loss = inter_modal_loss(video, audio, margin, negative="hardest")
    assert loss.item() == pytest.approx(expected_loss, rel=1e-9, abs=1e-9)
