"""Experiments that justified a choice (the recipe, the int8 settings, 7-bit weights): run once when
that choice is revisited, not by `make bench`. Each prints JSON: `python -m experiments.NAME`."""
