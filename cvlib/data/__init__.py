"""Data for the course: seeded generators for every lesson, annotation formats, and real data sets.

Generated (each from a seed, offline, with exact labels):

- ``shapes``: scenes of coloured shapes with boxes, labels and masks (01-05, 11, 12, 15);
- ``context``: a pixel-labelling task that needs long-range context (13);
- ``ct``: chest-CT phantoms written as NIfTI, and a MosMedData-style loader (06);
- ``clips``: video clips whose classes differ only in their motion (17);
- ``faces``: faces with exact 68-point landmarks (07, 09); ``glyphs`` and ``pairs``: an Omniglot-style
  alphabet and the pairs, triplets and one-shot episodes drawn from a labelled set (08, 09);
- ``sequences``: videos with one ground-truth box per frame (10);
- ``clicks``: simulated user clicks (15); ``figures``: articulated figures with dense (U, V) maps (16);
- ``augment`` and ``seg_augment``: augmentation that moves boxes or label maps with the pixels (05, 11).

Files: ``formats`` (COCO JSON and PASCAL VOC XML, written and read) and ``download`` (the real data sets
a student can use when they have them: sources, checksums and where they go).

Real data sets in their published layouts: ``voc`` (PASCAL VOC 2007), ``landmarks300w`` (300-W ``.pts``
landmarks), ``omniglot``, ``lfw`` (with ``pairs.txt``), ``otb`` (OTB-100 sequences) and ``pets``
(Oxford-IIIT Pet trimaps); MosMedData's NIfTI volumes are read by ``ct``.

Only ``shapes``, ``formats`` and ``download`` are imported here; import the others by module
(``from cvlib.data import clips``).
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
