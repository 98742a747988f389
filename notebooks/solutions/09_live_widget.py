# %% 09.iou
import numpy as np

def answer(gt_mask, pred_mask):
    valid = gt_mask != -1
    obj = gt_mask == 1
    union = np.count_nonzero((pred_mask | obj) & valid)
    return np.count_nonzero(pred_mask & obj & valid) / union if union else 1.0
