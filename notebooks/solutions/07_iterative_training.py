# %% 07.sign
import cv2
import numpy as np

def answer(probs, gt):
    obj = gt > 0.5
    largest = []
    for region in (obj & (probs < 0.49), ~obj & (probs > 0.49)):
        padded = np.pad(region, 1).astype(np.uint8)
        largest.append(cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1].max())
    return largest[0] > largest[1]
