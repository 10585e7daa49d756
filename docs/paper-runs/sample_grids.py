#!/usr/bin/env python
"""Per-epoch sample grids of a dp_dcgan run's finished DCGANs, for a text record's ``figures/``.

A DCGAN unit keeps the generator's digits for ten fixed latents after every epoch (``epoch_images``, in the
git-ignored ``units/dcgan/<model>.npz``); this draws epochs 1, 5, 10, …, 30 of each finished model as
``samples_per_epoch_<model>.png`` (small: 60 dpi), so a record keeps them when the run folder is gone.

    python docs/paper-runs/sample_grids.py RUN_DIR docs/paper-runs/<record>/figures
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from tfdpfair import serialization  # noqa: E402
from tfdpfair.reporting.figures import image_grid  # noqa: E402
from tfdpfair.reporting.output import save_figure  # noqa: E402

EPOCHS = (1, 5, 10, 15, 20, 25, 30)


def main(run: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for stored in sorted((run / "units" / "dcgan").glob("*.json")):
        npz = stored.with_name(stored.name[:-len(".json")] + ".npz")
        images = serialization.unpack(stored.read_text(), npz.read_bytes())["epoch_images"]  # (epochs, 10, H, W, 1)
        rows = [e for e in EPOCHS if e <= len(images)]
        fig = image_grid(np.concatenate([images[e - 1] for e in rows]), rows=len(rows), cols=10,
                         row_labels=[f"epoch {e}" for e in rows])
        path = out / f"samples_per_epoch_{stored.name[:-len('.json')]}.png"
        save_figure(fig, path, dpi=60)
        print(path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
