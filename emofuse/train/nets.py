"""The torch network of the face recipe (the speech head lives with its recipe). Exported to ONNX for inference."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class FaceCNN(nn.Module):
    """VGG-style CNN for 48x48 grey face crops (B, 1, 48, 48) -> 7 logits (inputs scaled to [0, 1])."""

    def __init__(self, n_classes: int = 7, widths: tuple[int, ...] = (32, 64, 128, 256), dropout: float = 0.4):
        super().__init__()
        layers, c_in = [conv_bn(1, widths[0]), nn.MaxPool2d(2)], widths[0]
        for width in widths[1:]:
            layers += [conv_bn(c_in, width), conv_bn(width, width), nn.MaxPool2d(2)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in * 9, 256),
                                  nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(256, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
