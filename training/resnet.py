"""ResNet with BasicBlocks in plain torch (torchvision-style names: conv1, bn1, layer1.0.conv1, ..., fc)."""
import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class ResNet(nn.Module):
    """stem: conv7x7/2 + BN + ReLU + maxpool3x3/2; 4 stages of BasicBlocks; global average pool; fc."""
    def __init__(self, in_ch=1, widths=(32, 64, 128, 256), blocks=(2, 2, 2, 2), num_classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 7, 2, 3, bias=False); self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True); self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = widths[0]; layers = []
        for i, (w, n) in enumerate(zip(widths, blocks)):
            blk = [BasicBlock(cin, w, 1 if i == 0 else 2)] + [BasicBlock(w, w) for _ in range(n - 1)]
            layers.append(nn.Sequential(*blk)); cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.fc = nn.Linear(cin, num_classes)
        self.feature_dim = cin
        self.config = dict(arch="resnet-basicblock", in_ch=in_ch, widths=list(widths), blocks=list(blocks),
                           num_classes=num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)  # zero-init residual

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean((2, 3))

    def forward(self, x):
        return self.fc(self.features(x))
