"""What ``tfdpfair list`` shows: reproductions and their presets, model-zoo names, datasets available offline."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Optional

# slug -> (paper, file in shared/papers)
REPRODUCTIONS = {
    "neither_private_nor_fair": "Farrand et al. 2020, Neither Private Nor Fair",
    "dp_cgan": "Torkzadehmahani et al. 2020, DP-CGAN",
    "generalization_tradeoffs": "Hassanpour et al. 2025, generalization techniques, privacy, utility and fairness",
    "demem": "Luo & Li, DeMem: privacy-enhanced robust adversarial learning",
    "dp_dcgan": "Wincott 2020, generating differentially private datasets using deep learning",
}
SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "reproductions"


def script_presets(slug: str) -> Optional[list]:
    """The presets a reproduction script defines, or None when the script is not here yet."""
    path = SCRIPTS_DIR / f"{slug}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"_tfdpfair_repro_{slug}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return sorted(getattr(module, "PRESETS", {}))


def describe(*, data_dir: Optional[str] = None) -> dict:
    from tfdpfair import data, models

    return {
        "reproductions": [
            {"slug": slug, "paper": paper, "script": f"reproductions/{slug}.py", "presets": script_presets(slug)}
            for slug, paper in REPRODUCTIONS.items()
        ],
        "models": models.names(),
        "datasets": data.available_offline(data_dir),
    }


def format_text(info: dict) -> str:
    lines = ["Reproductions (python reproductions/<slug>.py --preset P):"]
    for r in info["reproductions"]:
        presets = ", ".join(r["presets"]) if r["presets"] else "not implemented yet"
        lines.append(f"  {r['slug']:<26} {presets:<22} {r['paper']}")
    lines.append("Models (tfdpfair.models.get(name)):")
    lines.append("  " + ", ".join(info["models"]))
    lines.append("Datasets, source `auto` would use offline:")
    for name, source in info["datasets"].items():
        lines.append(f"  {name:<14} {source or 'not available offline (see --data-dir, TFDS)'}")
    return "\n".join(lines)
