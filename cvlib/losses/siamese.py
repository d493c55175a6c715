"""Siamese losses: pair BCE, contrastive, triplet and in-batch triplet mining (notebook 08)."""

__all__: list[str] = []
