# %% 12.photo_id
import re

def answer(name):
    match = re.match(r"^(.*?)(\d+)_(\d+)$", name)
    return match.group(3) if match else name
