"""SiamFC's balanced logistic loss over a score map (notebook 10)."""

__all__: list[str] = []
