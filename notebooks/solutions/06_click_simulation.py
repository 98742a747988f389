# %% 06.click_count
import numpy as np

from ritm_lite.data.points_sampler import click_count_probs


def answer(max_num_points, gamma):
    probs = click_count_probs(max_num_points, gamma)
    return 1 + float((np.arange(max_num_points) * probs).sum())
