"""The chapter-2 DataBlock over the verified cache."""

from __future__ import annotations

import random
from pathlib import Path

from ..core import DataError
from .archs import mean_std
from .recipe import Recipe


def dataloaders(cache: Path, recipe: Recipe, splitter=None, valid_pct: float = 0.2):
    """The chapter-2 DataBlock over a cache folder for `recipe` (seeded by it; normalised for its
    arch); `splitter` replaces the seeded random 20% validation split."""
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        ImageBlock,
        Normalize,
        RandomResizedCrop,
        aug_transforms,
        get_image_files,
        parent_label,
    )

    recipe.seed_everything()
    block = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_image_files,
        splitter=splitter or every_class_trains(valid_pct, recipe.seed),
        get_y=parent_label,
        item_tfms=RandomResizedCrop(recipe.size, min_scale=recipe.min_scale),
        batch_tfms=[*aug_transforms(), Normalize.from_stats(*mean_std(recipe.arch))],
    )
    return block.dataloaders(_class_dirs(cache), bs=recipe.bs, num_workers=0)


def every_class_trains(valid_pct: float, seed: int):
    """fastai's RandomSplitter, except that a class whose photos all fell into the validation set
    gets one back: fastai's vocab comes from the training set, so a class missing there breaks
    every later step (a class of one or two photos, say)."""
    from fastai.data.transforms import RandomSplitter, parent_label

    random_split = RandomSplitter(valid_pct=valid_pct, seed=seed)

    def split(items):
        train, valid = random_split(items)
        trained = {parent_label(items[i]) for i in train}
        for label in sorted({parent_label(items[i]) for i in valid} - trained):
            back = random.Random(seed).choice([i for i in valid if parent_label(items[i]) == label])
            train, valid = [*train, back], [i for i in valid if i != back]
        return train, valid

    return split


def _class_dirs(cache: Path) -> Path:
    """The cache root, checked to hold class folders (the staging folder is hidden)."""
    cache = Path(cache)
    if not any(d.is_dir() and not d.name.startswith(".") for d in cache.iterdir()):
        raise DataError(f"{cache} holds no class folders; run build_cache first")
    return cache
