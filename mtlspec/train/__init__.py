"""Training: bundled data sets, loss weighting / gradient aggregation (24 methods), the loop."""
