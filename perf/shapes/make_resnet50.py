"""Writes perf/shapes/resnet50.txt: ResNet-50's parameter shapes, one tensor per line
(Debian's python3-torchvision; no weights are needed). Run with /usr/bin/python3."""
import os

import torchvision

here = os.path.dirname(os.path.abspath(__file__))
params = list(torchvision.models.resnet50().parameters())
with open(os.path.join(here, "resnet50.txt"), "w") as f:
    f.write("# ResNet-50's 161 parameter tensors, in order (torchvision.models.resnet50()):\n")
    f.write("# one per line, its dimensions; perf/shapes/make_resnet50.py wrote it.\n")
    for p in params:
        f.write(" ".join(str(d) for d in p.shape) + "\n")
