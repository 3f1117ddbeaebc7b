"""Row sources: what a split's columns may be besides an in-memory array.

A memory-mapped cache, a subset of one (`RowView`) and frames decoded from the clips when read
(retrieval.data.cache.ClipFrames) all answer `len()`, `.shape`, `.dtype` and rows by int, slice
or index array, so training and evaluation read any of them a batch at a time.
"""

from typing import Any, Protocol

import numpy as np


class Rows(Protocol):
    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> Any: ...


class RowView:
    """Rows `index` of `base`, read only when indexed: a subset of a memory-mapped split stays on
    disk instead of being copied into memory."""

    def __init__(self, base: Rows, index: np.ndarray):
        self.base, self.index = base, np.asarray(index)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.base.shape[1:])

    @property
    def dtype(self):
        return self.base.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index: Any) -> Any:
        return self.base[self.index[index]]


class MappedFile:
    """A whole-file memory map as sent to another process: by its file, where a pickled `np.memmap`
    is a copy of all its bytes. Unpickled, it is the same map opened again, read-only."""

    def __init__(self, rows: np.memmap):
        order = "F" if rows.flags.f_contiguous and not rows.flags.c_contiguous else "C"
        self.args = (str(rows.filename), rows.dtype, "r", rows.offset, rows.shape, order)

    def __reduce__(self):
        return np.memmap, self.args


def by_reference(rows: Rows) -> Rows:
    """`rows` ready to pickle for a worker process: a memory map of a whole file (also under a
    `RowView`) goes by its file; anything else, a slice of a map included, as it is."""
    if isinstance(rows, RowView):
        return RowView(by_reference(rows.base), rows.index)
    if isinstance(rows, np.memmap) and rows.filename and rows.base is getattr(rows, "_mmap", None):
        return MappedFile(rows)  # type: ignore[return-value]  # it unpickles as the np.memmap
    return rows
