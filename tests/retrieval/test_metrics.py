import numpy as np
import pytest

from retrieval.metrics import acc_rank, detection_accuracy, gt_ranks, random_scores, recall_at_k


def test_it_ranks_the_ground_truth_sound_of_each_video():
    video = np.array([[0.0], [1.0], [2.0]])
    audio = np.array([[0.1], [5.0], [2.2]])
    ranks = gt_ranks(video, audio)
    np.testing.assert_array_equal(ranks, [1, 3, 1])
    assert acc_rank(ranks, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranks, 1) == pytest.approx(2 / 3)
    assert recall_at_k(ranks, 3) == 1.0


def test_it_gives_tied_entries_the_mean_rank():
    same = np.zeros((5, 4))
    ranks = gt_ranks(same, same)
    np.testing.assert_array_equal(ranks, [3, 3, 3, 3, 3])
    assert acc_rank(ranks, 5) == 0.5


def test_it_matches_the_papers_random_row():
    row = random_scores(894)
    assert row["acc_rank"] == 0.5
    assert (round(row["r@5"], 3), round(row["r@50"], 3), round(row["r@100"], 3)) == (0.006, 0.056, 0.112)


def test_acc_rank_is_one_when_the_ground_truth_comes_first_and_one_half_over_every_rank():
    assert acc_rank(np.ones(7), 7) == 1.0
    assert acc_rank(np.full(7, 7), 7) == 0.0
    assert acc_rank(np.arange(1, 8), 7) == pytest.approx(0.5)  # Random: each rank equally likely


def test_it_scores_detection_at_threshold_one_half():
    assert detection_accuracy([0.9, 0.5, 0.49, 0.1], [1, 1, 1, 0]) == 0.75


def test_it_rejects_mismatched_embeddings():
    with pytest.raises(ValueError, match="one shape"):
        gt_ranks(np.zeros((3, 4)), np.zeros((2, 4)))
