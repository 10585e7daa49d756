"""Evaluation: synthetic-data utility (``synthetic``: TSTR AUROC, real-vs-fake, FID), group fairness
(``fairness``: per-group accuracy, accuracy gap, ΔDemP, ΔEO, bootstrap intervals), per-group learning curves
(``learning_curves``), one disparate-impact run (``group_runs``), membership inference (``membership``: TF
Privacy's threshold / entropy / LR / MLP / RF / k-NN attacks per slice and group, privacy risk scores), LiRA with
shadow models and memorization estimates (``lira``), and empirical lower bounds on ε (``audit``: ratio bounds
from attack scores, Steinke et al.'s one-run canary audit), and Hassanpour et al.'s trade-off measures (``tradeoffs``: domain and
gender bias amplification, harmonic score, GGap, gender-weighted AP)."""
