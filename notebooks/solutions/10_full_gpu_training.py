# %% 10.conv1s_scale
from ritm_lite.model import Conv1S


def answer(init_scale):
    return Conv1S(in_channels=3, init_scale=init_scale)
