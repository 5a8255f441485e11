"""ResNet-50 (v1, bottleneck units, stride on the 3x3 as in torchvision's v1.5) in plain
PyTorch, as a user without torchvision would write it: the benchmark's PyTorch peer."""

import torch
from torch import nn


class Bottleneck(nn.Module):
  """1x1 reduce, 3x3 (with the unit's stride), 1x1 expand, each followed by batch norm;
  a 1x1 projection shortcut when the shape changes."""

  expansion = 4

  def __init__(self, in_channels, width, stride):
    super().__init__()
    out_channels = width * self.expansion
    self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(width)
    self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
    self.bn2 = nn.BatchNorm2d(width)
    self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(out_channels)
    self.relu = nn.ReLU(inplace=True)
    self.shortcut = None
    if stride != 1 or in_channels != out_channels:
      self.shortcut = nn.Sequential(
          nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
          nn.BatchNorm2d(out_channels))

  def forward(self, x):
    identity = x if self.shortcut is None else self.shortcut(x)
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    return self.relu(out + identity)


class ResNet50(nn.Module):
  """Input [N, 3, H, W] -> logits [N, num_classes]."""

  def __init__(self, num_classes, units=(3, 4, 6, 3)):
    super().__init__()
    self.stem = nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
        nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
    layers, in_channels = [], 64
    for index, (width, count) in enumerate(zip((64, 128, 256, 512), units)):
      for unit in range(count):
        stride = 2 if index > 0 and unit == 0 else 1
        layers.append(Bottleneck(in_channels, width, stride))
        in_channels = width * Bottleneck.expansion
    self.blocks = nn.Sequential(*layers)
    self.fc = nn.Linear(in_channels, num_classes)

  def forward(self, x):
    x = self.blocks(self.stem(x))
    return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
