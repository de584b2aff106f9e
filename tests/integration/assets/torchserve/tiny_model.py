"""The tiny model archived for TorchServe: one torch.nn.Linear (4 features -> 2)."""

import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)
