"""Damage a dataset file the way downloads and hand-made datasets break.

The data checks (:mod:`depict.datasets.checker`) are tested against these:

* ``'zero_byte'``: an empty file (an interrupted copy);
* ``'truncate'``: the first half of the file (a partial download);
* ``'rgb'``: a label map saved as RGB (a colour rendering instead of indices);
* ``'half_size'``: a label map resized to half its size (nearest neighbour),
  so that it no longer matches its image.
"""
from PIL import Image

__all__ = ['DAMAGES', 'damage_file']

DAMAGES = ('zero_byte', 'truncate', 'rgb', 'half_size')


def damage_file(path: str, damage: str) -> str:
    """Damages ``path`` in place as ``damage`` (one of :data:`DAMAGES`); returns it."""
    if damage == 'zero_byte':
        open(path, 'wb').close()
    elif damage == 'truncate':
        with open(path, 'rb') as f:
            data = f.read()
        with open(path, 'wb') as f:
            f.write(data[:len(data) // 2])
    elif damage == 'rgb':
        Image.open(path).convert('RGB').save(path)
    elif damage == 'half_size':
        label = Image.open(path)
        label.resize((label.width // 2, label.height // 2), Image.NEAREST).save(path)
    else:
        raise ValueError(f'unknown damage {damage!r}; one of {", ".join(DAMAGES)}')
    return path
