# %% 08.noc
import numpy as np

def answer(ious, threshold, max_clicks):
    reached = np.flatnonzero(np.asarray(ious) >= threshold)
    return int(reached[0]) + 1 if reached.size else max_clicks

# %% 08.zoom_box
import numpy as np

def answer(mask, expansion_ratio, min_crop_size):
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
    cy, cx = (top + bottom) / 2, (left + right) / 2
    h = max(expansion_ratio * (bottom - top + 1), min_crop_size)
    w = max(expansion_ratio * (right - left + 1), min_crop_size)
    H, W = mask.shape
    return (max(0, round(cy - h / 2)), min(H - 1, round(cy + h / 2)),
            max(0, round(cx - w / 2)), min(W - 1, round(cx + w / 2)))
