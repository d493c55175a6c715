"""Data for the course: generated scenes and annotation formats.

- ``cvlib.data.shapes``: seeded synthetic scenes of coloured shapes (boxes, labels, masks);
- ``cvlib.data.formats``: COCO JSON and PASCAL VOC XML, written and read.
"""

from cvlib.data.download import download
from cvlib.data.formats import (
    coco_class_names,
    detections_to_coco,
    from_coco,
    load_coco,
    mask_to_rle,
    read_voc_xml,
    rle_to_mask,
    save_coco,
    to_coco,
    to_voc_xml,
    write_voc_dataset,
)
from cvlib.data.shapes import BACKGROUNDS, CLASS_NAMES, Scenes, generate_scenes, instance_map, semantic_map

__all__ = [
    "BACKGROUNDS",
    "CLASS_NAMES",
    "Scenes",
    "coco_class_names",
    "detections_to_coco",
    "download",
    "from_coco",
    "generate_scenes",
    "instance_map",
    "load_coco",
    "mask_to_rle",
    "read_voc_xml",
    "rle_to_mask",
    "save_coco",
    "semantic_map",
    "to_coco",
    "to_voc_xml",
    "write_voc_dataset",
]
