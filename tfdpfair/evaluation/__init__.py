"""Evaluation: synthetic-data utility (TSTR AUROC, real-vs-fake, FID); fairness and attacks come later."""
