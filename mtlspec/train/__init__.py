"""Training: bundled data sets, loss weighting (uniform, RLW, MGDA, MGDA-UB) and the loop."""
