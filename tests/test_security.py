"""A crafted checkpoint cannot run code: checkpoints load with ``weights_only=True``."""

from __future__ import annotations

import pytest
import torch

from seqtune.errors import SeqtuneError
from seqtune.study import load_checkpoint


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_pickle_checkpoint_is_refused_and_runs_nothing(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "best.pt"
    torch.save({"format": 1, "state_dict": {}, "evil": _Payload(str(marker))}, path)
    with pytest.raises(SeqtuneError, match="not a seqtune checkpoint .*Weights only load failed"):
        load_checkpoint(path)  # one line (torch's UnpicklingError), no traceback
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the same file, unpickled unsafely, does run it
    assert marker.exists()
