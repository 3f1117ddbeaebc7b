"""read_manifest: the columns of docs/datasets.md, absolute paths, and errors that name the file and row."""

import pytest

from retrieval.data import DatasetError, read_manifest
from retrieval.data.manifest import COLUMNS

HEADER = ",".join(COLUMNS)


def write(root, *lines, header=HEADER):
    (root / "clips").mkdir(exist_ok=True)
    for name in ("a", "b"):
        for ext in ("mp4", "wav"):
            (root / "clips" / f"{name}.{ext}").write_bytes(b"x")
    (root / "manifest.csv").write_text("\n".join([header, *lines]) + "\n")
    return root


GOOD_A = "a,train,clips/a.mp4,clips/a.wav,1,day-1,2.500,impact"
GOOD_B = "b,test,clips/b.mp4,clips/b.wav,0,day-2,,"


def test_it_reads_rows_with_absolute_paths(tmp_path):
    rows = read_manifest(write(tmp_path, GOOD_A, GOOD_B))
    a, b = rows
    assert (a.clip_id, a.split, a.has_se, a.source) == ("a", "train", True, "day-1")
    assert (a.se_onset, a.se_class) == (2.5, "impact")
    assert a.video == (tmp_path / "clips" / "a.mp4").resolve() and a.video.is_absolute()
    assert (b.has_se, b.se_onset, b.se_class) == (False, None, "")


def test_it_names_the_file_and_the_missing_column(tmp_path):
    write(tmp_path, "a,train,clips/a.mp4,clips/a.wav,1,day-1,2.5", header=",".join(COLUMNS[:-1]))
    with pytest.raises(DatasetError, match=r"manifest\.csv: missing column\(s\) se_class"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("line, field", [
    ("b,train,clips/b.mp4,clips/b.wav,maybe,day-1,,", "has_se"),
    ("b,holdout,clips/b.mp4,clips/b.wav,0,day-1,,", "split"),
    ("b,train,clips/b.mp4,clips/b.wav,1,day-1,soon,impact", "se_onset"),
    ("b,train,clips/b.mp4,clips/b.wav,1,day-1,-1,impact", "se_onset"),
    ("b,train,clips/missing.mp4,clips/b.wav,0,day-1,,", "video"),
    ("b,train,clips/b.mp4,,0,day-1,,", "audio"),
])
def test_it_names_the_row_and_field_of_a_bad_value(tmp_path, line, field):
    write(tmp_path, GOOD_A, line)
    with pytest.raises(DatasetError, match=rf"manifest\.csv, row 3: {field} "):
        read_manifest(tmp_path)


def test_it_refuses_a_short_row_and_a_repeated_clip(tmp_path):
    write(tmp_path, GOOD_A, "b,train,clips/b.mp4")
    with pytest.raises(DatasetError, match="row 3: wrong number of fields"):
        read_manifest(tmp_path)
    write(tmp_path, GOOD_A, GOOD_A)
    with pytest.raises(DatasetError, match="row 3: clip_id 'a' repeats row 2"):
        read_manifest(tmp_path)


def test_it_says_when_there_is_no_manifest(tmp_path):
    with pytest.raises(DatasetError, match="no manifest"):
        read_manifest(tmp_path)
