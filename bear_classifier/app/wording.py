"""The app's words, made from the model's classes: title, instruction, and the "none of these"
and "not sure" answers."""

from __future__ import annotations

from ..core import BEARS

BEAR_NAMES = dict(zip(BEARS, ("a grizzly", "a black bear", "a teddy bear")))


def describe(classes: list[str]) -> str:
    """'a grizzly, black or teddy bear' for the bears, else 'a cricket or tennis' (sorted)."""
    if set(classes) == set(BEARS):
        return "a " + ", ".join(BEARS[:-1]) + f" or {BEARS[-1]} bear"
    names = sorted(classes)
    return "a " + (", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0])


def none_of_these(classes: list[str]) -> str:
    """The sentence shown when a picture shows none of `classes`."""
    return f"This doesn't look like {describe(classes)}."


def one(name: str, classes: list[str]) -> str:
    """One of a class, as a person says it: 'a black bear' for the bears, else 'a cat', 'an owl'."""
    if set(classes) == set(BEARS):
        return BEAR_NAMES[name]
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def not_sure(label: str, runner_up: str, classes: list[str]) -> str:
    """The sentence shown when `label` is not clearly ahead of `runner_up`."""
    return f"Probably {one(label, classes)}, but it could be {one(runner_up, classes)}."


def title(classes: list[str]) -> str:
    """'Bear classifier' for the bears, else e.g. 'Cricket or tennis?'."""
    if set(classes) == set(BEARS):
        return "Bear classifier"
    return describe(classes).removeprefix("a ").capitalize() + "?"


def instruction(classes: list[str]) -> str:
    """What the visitor should do."""
    return f"Choose or take a photo of {describe(classes)}."
