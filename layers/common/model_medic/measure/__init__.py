"""Measures AWS does not give: per-variant endpoint metrics, input drift, model quality against ground truth."""
