"""`cnnkit explain MODEL IMAGE`: Grad-CAM, feature maps and first-layer filters as PNG files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cnnkit.cli._format import command_parser
from cnnkit.pipeline import explain_image, load_classifier

EXAMPLES = """\
  cnnkit explain runs/flowers/model.cnnkit photo.jpg              writes into explain_photo/
  cnnkit explain runs/flowers photo.jpg --out why/

Files: gradcam.png (heat map over the image), gradcam_heatmap.png, feature_maps_<layer>.png for each
convolution, filters.png (the first convolution's kernels).
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "explain", parents, "show why the model decides what it decides", __doc__, EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a .cnnkit model file (or the run folder holding model.cnnkit)")
    p.add_argument("image", metavar="IMAGE", help="the image to explain")
    p.add_argument("--out", default=None, help="output folder (default: explain_<image name>)")
    return p


def run(args: argparse.Namespace) -> int:
    clf = load_classifier(args.model)
    out = args.out or f"explain_{Path(args.image).stem}"
    result = explain_image(clf, args.image, out)
    print(f"Predicted: {result['class']} ({result['probability']:.4f})")
    print(f"Wrote {len(result['files'])} files to {out}/:")
    for f in result["files"]:
        print(f"  {f}")
    return 0
