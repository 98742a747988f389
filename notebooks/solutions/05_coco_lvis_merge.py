# %% 05.threshold
from ritm_lite.data.coco_lvis import MergeConfig, merge_image


def answer(coco_masks, lvis_masks, threshold):
    config = MergeConfig(replace_box_iou=threshold, replace_mask_iou=threshold)
    return len(merge_image(coco_masks, lvis_masks, config).replaced)
