# %% 11.se
import numpy as np

def answer(a, b):
    return float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
