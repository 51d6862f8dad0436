"""The torch networks emofuse trains (speech and face). Exported to ONNX for inference."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int = 3, dims: int = 2) -> nn.Sequential:
    conv = nn.Conv2d if dims == 2 else nn.Conv1d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return nn.Sequential(conv(c_in, c_out, kernel, padding=kernel // 2, bias=False), norm(c_out),
                         nn.ReLU(inplace=True))


class AttentionPool(nn.Module):
    """Softmax attention over the last axis: (B, C, T) -> (B, C)."""

    def __init__(self, channels: int):
        super().__init__()
        self.score = nn.Conv1d(channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(x), dim=-1)
        return (x * weights).sum(dim=-1)


class SpeechCNN(nn.Module):
    """CNN on a log-mel window (B, n_mels, T): a strided stem, conv blocks, attention over time."""

    def __init__(self, n_classes: int = 8, widths: tuple[int, ...] = (32, 64, 128, 192), dropout: float = 0.3):
        super().__init__()
        stem = nn.Sequential(nn.Conv2d(1, widths[0], 5, stride=2, padding=2, bias=False),
                             nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        layers, c_in = [stem], widths[0]
        for width in widths[1:]:
            layers += [conv_bn(c_in, width), nn.MaxPool2d(2)]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = AttentionPool(c_in)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c_in, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.unsqueeze(1)).mean(dim=2)  # (B, C, T')
        return self.head(torch.cat([self.pool(h), h.amax(dim=-1)], dim=1))


class _DenseLayer(nn.Module):
    def __init__(self, c_in: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
                                  nn.Conv2d(c_in, growth, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class SpeechDenseNet(nn.Module):
    """DenseNet-style CNN on a log-mel window: dense blocks joined by 1x1 transitions and pooling."""

    def __init__(self, n_classes: int = 8, growth: int = 12, layers: tuple[int, ...] = (3, 4, 4),
                 dropout: float = 0.3):
        super().__init__()
        c = 2 * growth
        blocks: list[nn.Module] = [nn.Conv2d(1, c, 5, stride=2, padding=2, bias=False), nn.MaxPool2d(2)]
        for i, n in enumerate(layers):
            for _ in range(n):
                blocks.append(_DenseLayer(c, growth))
                c += growth
            if i < len(layers) - 1:
                blocks += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False),
                           nn.AvgPool2d(2)]
                c //= 2
        blocks += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*blocks)
        self.pool = AttentionPool(c)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * c, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x.unsqueeze(1)).mean(dim=2)
        return self.head(torch.cat([self.pool(h), h.amax(dim=-1)], dim=1))


class SpeechCRNN(nn.Module):
    """CNN + BiLSTM with attention pooling on an MFCC(+deltas) sequence (B, n_features, T)."""

    def __init__(self, n_classes: int = 8, n_features: int = 60, width: int = 128, hidden: int = 96,
                 dropout: float = 0.3):
        super().__init__()
        self.conv = nn.Sequential(nn.BatchNorm1d(n_features), conv_bn(n_features, width, 5, dims=1), nn.MaxPool1d(2),
                                  conv_bn(width, width, 5, dims=1), nn.MaxPool1d(2))
        self.rnn = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.pool = AttentionPool(2 * hidden)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.conv(x).transpose(1, 2))
        return self.head(self.pool(h.transpose(1, 2)))


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


SPEECH_NETS = {"cnn": (SpeechCNN, "logmel"), "densenet": (SpeechDenseNet, "logmel"), "crnn": (SpeechCRNN, "mfcc")}
"""Speech architectures by name, with the feature kind each takes."""
