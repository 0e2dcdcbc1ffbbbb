"""Dump every leaf config's resolved form, or compare two dumps.

A leaf config's meaning is what the Runner reads after ``_base_`` inheritance.
Restructuring the configs must not change it, so this tool writes one JSON file
per leaf (the resolved config with the names the Runner never reads left out:
``_base_`` helpers and underscore names) and compares two such folders key by key.

Examples::

    python tools/misc/dump_configs.py dump work_dirs/cfg_before
    # ... edit configs ...
    python tools/misc/dump_configs.py dump work_dirs/cfg_after
    python tools/misc/dump_configs.py compare work_dirs/cfg_before work_dirs/cfg_after
"""
import argparse
import sys

from depict.utils.config import compare_config_dumps, dump_leaf_configs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    dump = sub.add_parser('dump', help='write <out>/<leaf path>.json for every leaf config')
    dump.add_argument('out', help='output folder')
    dump.add_argument('--configs', default='configs', help='the configs folder (default: configs)')
    compare = sub.add_parser('compare', help='list the keys that differ between two dumps')
    compare.add_argument('before')
    compare.add_argument('after')
    args = parser.parse_args(argv)
    if args.command == 'dump':
        written = dump_leaf_configs(args.configs, args.out)
        print(f'{len(written)} leaf configs dumped to {args.out}')
        return 0
    differences = compare_config_dumps(args.before, args.after)
    for line in differences:
        print(line)
    print(f'{len(differences)} difference(s)')
    return 1 if differences else 0


if __name__ == '__main__':
    sys.exit(main())
