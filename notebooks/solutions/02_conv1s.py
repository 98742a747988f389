# %% 02.conv1e
import torch

def answer(weight):
    new_channels = torch.zeros(weight.shape[0], 2, *weight.shape[2:], dtype=weight.dtype)
    return torch.cat([weight, new_channels], dim=1)
