# %% 08.noc
import numpy as np

def answer(ious, threshold, max_clicks):
    reached = np.flatnonzero(np.asarray(ious) >= threshold)
    return int(reached[0]) + 1 if reached.size else max_clicks
