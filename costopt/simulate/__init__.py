"""``costopt simulate``: a plan carried out against spot-capacity traces, and scored."""
