"""Make ``docs/widget.png``: the widget of notebook 09 in JupyterLab, after real clicks in Chromium.

    python docs/make_widget_picture.py --photo coffee.png --click 290 230 + --click 370 290 -

It starts a throw-away JupyterLab (``tests/browser_support.py``, the browser test's), opens a
small notebook that shows ``ClickSegmenter`` with the course's default weights on the photo,
clicks on the canvas in Chromium at the given ``(x, y)`` photo pixels (``+`` positive, ``-``
negative: the widget's sign toggle is switched with its keys, N and P), waits
for each click's mask to come back, and screenshots the widget.
The README's picture is scikit-image's ``coffee.png`` sample photo (CC0, Rachel Michetti; it
ships inside the ``scikit-image`` wheel: ``pip download scikit-image --no-deps`` and unzip
``skimage/data/coffee.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import CHROMIUM_ARGS, JupyterLabServer, find_chromium  # noqa: E402

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": [
            "import json, os\n",
            "from IPython.display import display\n",
            "from ritm_lite.weights import load_course_model\n",
            "from ritm_lite.widget import ClickSegmenter, live_predictor, load_image\n",
            "from ritm_lite.widget.state_file import mirror_state\n",
            "predictor = live_predictor(load_course_model())  # notebook 09's: the fast backend, its stored settings\n",
            "seg = ClickSegmenter(predictor, load_image(os.environ['PHOTO']), save_path='segmentation')\n",
            "mirror_state(seg)\n",
            "display(seg)\n",
        ]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, required=True, help="the photo to segment")
    parser.add_argument("--click", nargs=3, action="append", required=True, metavar=("X", "Y", "SIGN"),
                        help="a click at photo pixel (x, y), SIGN + (positive) or - (negative); repeat for more")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "widget.png")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        parser.error("Chromium not found (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="ritm_picture_"))
    state_file = work / "state.json"
    server = JupyterLabServer(work / "lab", env={
        "PHOTO": str(args.photo.resolve()), "RITM_WIDGET_STATE": str(state_file),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }, log_path=work / "jupyterlab.log")
    server.root.mkdir(parents=True, exist_ok=True)
    (server.root / "picture.ipynb").write_text(json.dumps(NOTEBOOK))
    with server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(server.lab_url("picture.ipynb"), timeout=60_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                               timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        canvas = page.locator(".ritm-click-segmenter canvas").last
        canvas.wait_for(state="visible", timeout=120_000)
        time.sleep(3)  # the photo is drawn right after the view appears
        box = canvas.bounding_box()
        width, height = page.evaluate("(el) => [el.width, el.height]", canvas.element_handle())
        for count, (x, y, sign) in enumerate(args.click, start=1):
            if sign not in ("+", "-") or (count == 1 and sign != "+"):
                parser.error(f"a click's sign is + or - (the first one +), got {sign!r}")
            if count > 1:  # the canvas has had focus since the first click: N / P set the sign
                page.keyboard.press("n" if sign == "-" else "p")
            position = {"x": (float(x) + 0.5) * box["width"] / width, "y": (float(y) + 0.5) * box["height"] / height}
            canvas.click(position=position)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if len(json.loads(state_file.read_text())["clicks"]) == count:
                        break
                except (OSError, ValueError, KeyError):
                    pass
                time.sleep(0.3)
            else:
                raise RuntimeError(f"click {count} did not come back; see {work / 'jupyterlab.log'}")
        time.sleep(2)  # the redraw message follows the state file
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".ritm-click-segmenter").first.screenshot(path=str(args.out))
        browser.close()
    print(f"wrote {args.out}: {json.loads(state_file.read_text())}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
