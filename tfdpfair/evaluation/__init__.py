"""Evaluation: synthetic-data utility (``synthetic``: TSTR AUROC, real-vs-fake, FID), group fairness
(``fairness``: per-group accuracy, accuracy gap, ΔDemP, ΔEO, bootstrap intervals), per-group learning curves
(``learning_curves``) and one disparate-impact run (``group_runs``). Membership-inference attacks come later."""
