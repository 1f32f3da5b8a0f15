"""Datasets made by the project (the embedded synthetic COCO-format dataset)."""
