"""nbval plugin: a figure in a checked cell must match the stored one, pixel by pixel within a small tolerance.

nbval compares text outputs and skips images. The book publishes the stored outputs, so a stale stored figure
would go online unnoticed; this wraps nbval's comparison so that every PNG a checked cell draws in the test run
is compared with the stored PNG of that cell (same size; at most FIGURE_TOLERANCE of the pixels differ by more
than PIXEL_STEP in some channel). Cells tagged nbval-ignore-output are not compared, as for text.
"""
import base64
import io

import numpy as np
from PIL import Image

FIGURE_TOLERANCE = 0.005  # share of pixels allowed to differ: markers at roundoff level may move a little
PIXEL_STEP = 64  # a channel difference below this is antialiasing noise, not a change of the drawing


def pngs(outputs):
    """The PNG images among a cell's outputs, decoded to RGB arrays."""
    images = []
    for out in outputs:
        data = out.get("data", {}).get("image/png")
        if data:
            image = Image.open(io.BytesIO(base64.b64decode("".join(data))))
            images.append(np.asarray(image.convert("RGB"), dtype=np.int16))
    return images


def figure_differences(fresh, stored):
    """What differs between the fresh and the stored figures of one cell; empty when they match."""
    fresh, stored = pngs(fresh), pngs(stored)
    if len(fresh) != len(stored):
        return [f"the cell draws {len(fresh)} figures, the notebook stores {len(stored)}"]
    problems = []
    for number, (new, old) in enumerate(zip(fresh, stored), 1):
        if new.shape != old.shape:
            problems.append(f"figure {number}: drawn {new.shape[1]}x{new.shape[0]} px, stored {old.shape[1]}x{old.shape[0]} px")
            continue
        share = np.mean(np.abs(new - old).max(axis=2) > PIXEL_STEP)
        if share > FIGURE_TOLERANCE:
            problems.append(f"figure {number}: {share:.2%} of the pixels differ from the stored figure "
                            f"(tolerance {FIGURE_TOLERANCE:.1%}); re-run `make execute` if the change is intended")
    return problems


def pytest_configure(config):
    """Wrap nbval's output comparison (when nbval is active) with the figure comparison."""
    if not config.getoption("nbval", default=False):
        return
    from nbval.plugin import IPyNbCell

    compare_text = IPyNbCell.compare_outputs
    if getattr(compare_text, "compares_figures", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        same_text = compare_text(self, test, ref, skip_compare)
        problems = figure_differences(test, ref)
        self.comparison_traceback.extend(problems)
        return same_text and not problems

    compare_outputs.compares_figures = True
    IPyNbCell.compare_outputs = compare_outputs
