"""COCO evaluation (every per-IoU AP from one pycocotools COCOeval run) and the shared inference runner."""
