"""Evaluation: fairness metrics, membership-inference attacks, synthetic-data utility (later issues)."""
