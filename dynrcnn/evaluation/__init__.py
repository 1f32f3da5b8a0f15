"""COCO evaluation with every per-IoU AP, read from one pycocotools COCOeval run."""
