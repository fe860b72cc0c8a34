"""Data: the seed papers' published result tables (`published`), and the data sets that
training reads. Below train/ and search/ in the layer order; importing it needs no torch."""
