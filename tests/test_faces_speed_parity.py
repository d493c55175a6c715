"""cvlib.data.faces: the fast renderer gives exactly the faces the notebooks were recorded with.

Notebooks 07 and 09 record figures that depend on the exact rendered faces, so the renderer's speed-ups
(vertices and colours prepared for all faces at once, lighting and noise applied block by block) must not change
a single bit. The SHA-256 digests below were computed with the original face-by-face renderer; they pin the
exact results of the pinned NumPy and OpenCV (``requirements.txt``). If one changes after a deliberate change
to the data or an upgrade, check notebooks 07 and 09 before updating it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cvlib.data import faces

FRAMING = {"yaw": (-20, 20), "pitch": (-10, 10), "roll": (-25, 25), "scale": (0.24, 0.36), "shift": (-0.08, 0.08)}


def _digest(f) -> str:
    h = hashlib.sha256()
    for a in (f.images, f.landmarks, f.identity, f.pose, f.mouth_open, f.brow_raise, f.skin):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _people():
    """Notebook 09's way: several pictures of each of a few sampled people, its framing."""
    ids = faces.sample_identities(3, seed=10)
    return faces.render_faces(6, size=64, seed=11, identities=ids, identity=np.repeat(np.arange(3), 2), **FRAMING)


CASES = {
    "notebook 07 (defaults)": (lambda: faces.render_faces(6, size=64, seed=1),
                               "86abcfe2b4ec99405bc9af509547c36ccbc1f45cf38f88de8b11c19ac94f7b62"),
    "notebook 09 (people, framing)": (_people, "6b2be2aea16a4caa3d260fbb5a250183328c2f5423c3c689b0036880974cb8fa"),
    "no lighting, clutter or noise": (
        lambda: faces.render_faces(3, size=96, seed=2, lighting=False, clutter=False, noise=0.0),
        "7d28e1a5f359c312c9e44553f2e42b82b36304c6adee00db2961bd576abdaf8f"),
    "40 small faces (several blocks)": (lambda: faces.render_faces(40, size=16, seed=5),
                                        "49f729239bf732ee360a7d62940cb3223d5104c563950feadb2b1472c6b89d75"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_output_is_pinned(name):
    render, expected = CASES[name]
    assert _digest(render()) == expected, f"render_faces no longer gives the faces recorded ({name})"


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_block_size_does_not_change_the_faces(monkeypatch, block):
    """Lighting and noise go block by block; any block size gives the same bits (the noise keeps its order)."""
    expected = _digest(faces.render_faces(20, size=24, seed=8))
    monkeypatch.setattr(faces, "_BLOCK", block)
    assert _digest(faces.render_faces(20, size=24, seed=8)) == expected
