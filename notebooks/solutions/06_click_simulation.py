# %% 06.errors
def answer(gt_mask, pred_mask):
    valid = gt_mask != -1
    obj = gt_mask == 1
    return obj & ~pred_mask & valid, ~obj & pred_mask & valid
