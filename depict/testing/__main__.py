"""``python -m depict.testing {cityscapes,pascal_context,ade20k,coco_stuff10k,coco_stuff164k} ROOT``: write a
miniature official-format release (see :mod:`depict.testing.fixtures`)."""
from .fixtures import main

main()
