"""Helpers for the exercises' graded checks: make sure the student's own code did the work.

Several exercises ask for something ``cvlib`` (or NumPy, OpenCV, Keras) already provides: IoU,
the contrastive loss, the integral image. A check that only compares answers would give the
point to ``def iou_pair(a, b): return boxes.iou([a], [b])[0, 0]``. Inside ``forbid(...)`` each
named function is replaced, wherever it is reachable (its module, every module that imported it
by name, the notebook's own namespace), by a stub that fails the check with a message saying
what to do instead; on leaving, everything is put back::

    with grading.forbid(boxes.iou, boxes.iou_matrix):
        assert iou_pair((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150

Only attribute look-ups at call time are caught: a function copied into a closure or a default
argument before the check runs keeps the original (a student who goes that far has read this).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


class UsedForbiddenFunction(AssertionError):
    """A graded check found the answer computed by a function the exercise asks the student to write."""


def _qualified(function: Callable) -> str:
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', getattr(function, '__name__', repr(function)))}"


class _Forbidden:
    """Stands in for a forbidden function or class: calling it, or reaching into it, fails the check."""

    def __init__(self, original: Callable):
        self._name = _qualified(original)

    def _fail(self, what: str):
        raise UsedForbiddenFunction(f"this exercise asks you to compute the answer yourself; your code called {what}")

    def __call__(self, *args, **kwargs):
        self._fail(self._name)

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):  # introspection (copy, pickle, IPython) must see an ordinary object
            raise AttributeError(attribute)
        self._fail(f"{self._name}.{attribute}")  # a classmethod such as SimilarityTransform.from_estimate

    def __repr__(self) -> str:
        return f"<forbidden {self._name}>"


def _namespaces(extra: list[dict]) -> Iterator[dict]:
    # Every module's namespace (a module that did `from cvlib.boxes import iou` holds its own name
    # for the function), then the caller's globals (the notebook's, where `iou = boxes.iou` lives).
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            yield namespace
    yield from extra


@contextlib.contextmanager
def forbid(*functions: Callable, namespace: dict | None = None) -> Iterator[None]:
    """Within the block, calling any of ``functions`` (or an attribute of a forbidden class, such as a
    classmethod) raises ``UsedForbiddenFunction`` (an AssertionError).

    ``functions``: the callables the exercise replaces (at least one). ``namespace``: the
    notebook's globals; by default the caller's, so names a student bound there are covered too.
    Raises ValueError when ``functions`` is empty or holds something that is not callable.
    """
    if not functions:
        raise ValueError("functions: expected at least one function to forbid, got none")
    for function in functions:
        if not callable(function):
            raise ValueError(f"functions: expected callables, got {type(function).__name__}")
    if namespace is None:
        namespace = sys._getframe(2).f_globals  # the frame that entered the `with` (contextmanager adds one)
    targets = {id(function): (function, _Forbidden(function)) for function in functions}
    replaced: list[tuple[dict, str, Callable]] = []
    for space in _namespaces([namespace]):
        for name, value in list(space.items()):
            hit = targets.get(id(value))
            if hit is not None and value is hit[0]:
                space[name] = hit[1]
                replaced.append((space, name, value))
    try:
        yield
    finally:
        for space, name, value in reversed(replaced):
            space[name] = value
