"""Timing helpers shared by the benchmarks: medians of repeated runs, and one table."""

from __future__ import annotations

import statistics
import time


def all_seconds(fn, repeat: int) -> list[float]:
    """Wall time of each of ``repeat`` runs of ``fn()``, in order."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_seconds(fn, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    return statistics.median(all_seconds(fn, repeat))


def format_seconds(seconds: float) -> str:
    """Human units: 812 µs, 12.3 ms, 4.56 s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


class Row(dict):
    """One benchmark row: task, cvlib's time, the reference's time, how much faster or slower cvlib is, a note."""

    def __init__(
        self, task: str, ours: float, reference: float | None = None, reference_name: str = "", note: str = ""
    ):
        if not reference:
            ratio = "-"
        elif reference >= ours:
            ratio = f"{reference / ours:.1f}x faster"
        else:
            ratio = f"{ours / reference:.1f}x slower"
        super().__init__(
            task=task,
            cvlib=format_seconds(ours),
            reference=f"{format_seconds(reference)} ({reference_name})" if reference else "-",
            **{"cvlib vs reference": ratio},
            note=note,
        )
