"""``python -m depict.testing {cityscapes,pascal_context,ade20k} ROOT``: write a
miniature official-format release (see :mod:`depict.testing.fixtures`)."""
from .fixtures import main

main()
