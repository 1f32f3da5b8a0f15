"""MMDetection-side code of the Dynamic R-CNN ablation suite."""
