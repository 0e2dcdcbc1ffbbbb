"""Test support: miniature benchmark releases in their official raw formats,
and damaged files for the data checks."""
from .damage import DAMAGES, damage_file
from .fixtures import (COCO_STUFF_IDS, expected_coco_stuff_train_ids,
                       expected_pascal_context_labels, make_ade20k_release,
                       make_cityscapes_release, make_coco_stuff10k_release,
                       make_coco_stuff164k_release, make_pascal_context_release)

__all__ = ['make_cityscapes_release', 'make_pascal_context_release', 'make_ade20k_release',
           'expected_pascal_context_labels', 'make_coco_stuff10k_release',
           'make_coco_stuff164k_release', 'COCO_STUFF_IDS', 'expected_coco_stuff_train_ids',
           'DAMAGES', 'damage_file']
