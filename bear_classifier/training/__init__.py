"""Training: the recipe, the verified cache, the DataBlock, architectures, the probe, export, cleaning, evaluation."""

import warnings

# fastai decorates a few of its layers with torch.jit.script when it is imported, which torch 2.10+ reports as
# deprecated on every training command: fastai's notice, not something our calls can change.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
