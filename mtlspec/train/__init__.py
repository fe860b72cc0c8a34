"""Training one model: bundled data sets (`data`), losses and metrics (`losses`), loss
weightings (uniform, fixed, RLW, MGDA, MGDA-UB: `weighting`, `step`, `shared`), the resumable
loop (`loop`, `epochs`, `checkpoint`), the recipe (`optim`: optimisers and schedules, `select`:
the best epoch, `amp`: mixed precision, `tblog`: TensorBoard, `config`: a run's config file),
Δ against single-task models (`delta`), and `settings.RunSettings` with `fit`, the one settings
object every training caller passes."""
