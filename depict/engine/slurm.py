"""What a task started by Slurm's ``srun`` needs to join its job's process group.

``srun`` gives every task its place (``SLURM_PROCID``, ``SLURM_NTASKS``,
``SLURM_LOCALID``) and the job's hosts (``SLURM_NODELIST``, in Slurm's compact
syntax), but not the rendezvous address that ``torch.distributed`` wants.
mmengine takes it from ``subprocess.getoutput('scontrol show hostname ... |
head -n1')``, so on a compute node without ``scontrol`` (or with one that
cannot reach the controller) the shell's error text, e.g. "/bin/sh: 1:
scontrol: not found", became the master address and every rank hung until
killed. :func:`slurm_master_addr` only ever returns a host name from a source
that worked, and says what it tried when none did.
"""
import itertools
import os
import re
import shutil
import subprocess
from typing import Mapping, Optional

__all__ = ['expand_nodelist', 'slurm_master_addr', 'slurm_dist_env']

# One bracket group of a host list item, e.g. "[01-03,7]".
_BRACKET = re.compile(r'\[([^\[\]]*)\]')


def _split_top_level(nodelist: str) -> list[str]:
    """Splits at the commas outside brackets: 'a[1,2],b' -> ['a[1,2]', 'b']."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(nodelist):
        if char == '[':
            depth += 1
            if depth > 1:
                raise ValueError(f'Slurm node list {nodelist!r}: nested "[" at position {i}')
        elif char == ']':
            depth -= 1
            if depth < 0:
                raise ValueError(f'Slurm node list {nodelist!r}: "]" without "[" at position {i}')
        elif char == ',' and depth == 0:
            items.append(nodelist[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError(f'Slurm node list {nodelist!r}: "[" without "]"')
    items.append(nodelist[start:])
    return items


def _expand_range(nodelist: str, ranges: str) -> list[str]:
    """The numbers of one bracket group, zero-padded as written: '01-03,7' -> 01 02 03 7."""
    numbers = []
    for part in ranges.split(','):
        low, sep, high = part.strip().partition('-')
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ValueError(f'Slurm node list {nodelist!r}: [{ranges}] holds {part!r}, '
                             'not a number or a range such as 01-03')
        if not sep:
            numbers.append(low)
            continue
        if int(high) < int(low):
            raise ValueError(f'Slurm node list {nodelist!r}: range {part!r} runs backwards')
        # Slurm pads to the width of the lower bound: [01-10] -> 01..10, [1-10] -> 1..10.
        width = len(low)
        numbers += [str(n).zfill(width) for n in range(int(low), int(high) + 1)]
    return numbers


def expand_nodelist(nodelist: str) -> list[str]:
    """The host names of a Slurm node list, in order.

    Slurm's compact syntax: comma-separated items, each a name with any number
    of bracket groups of numbers and ranges (zero padding kept), e.g.
    ``node[01-03,7],gpu5`` is node01, node02, node03, node7, gpu5, and
    ``rack[1-2]-n[1-2]`` is rack1-n1, rack1-n2, rack2-n1, rack2-n2.

    Raises:
        ValueError: naming the list and what in it is not Slurm's syntax.
    """
    nodelist = nodelist.strip()
    if not nodelist:
        raise ValueError('Slurm node list is empty')
    hosts = []
    for item in _split_top_level(nodelist):
        item = item.strip()
        if not item:
            raise ValueError(f'Slurm node list {nodelist!r}: an empty item (",," or a '
                             'leading / trailing comma)')
        pieces = _BRACKET.split(item)  # text, group, text, group, ..., text
        texts, groups = pieces[0::2], pieces[1::2]
        if any('[' in t or ']' in t for t in texts):
            raise ValueError(f'Slurm node list {nodelist!r}: unbalanced brackets in {item!r}')
        choices = [_expand_range(nodelist, g) for g in groups]
        for numbers in itertools.product(*choices):
            hosts.append(''.join(t + n for t, n in zip(texts, numbers)) + texts[-1])
    return hosts


def slurm_master_addr(env: Optional[Mapping[str, str]] = None,
                      scontrol_timeout: float = 20.0) -> tuple[str, str]:
    """The rendezvous host of a Slurm job: the first host of its node list.

    Tried in order: ``scontrol show hostnames $SLURM_NODELIST`` (only when it
    exits 0 and prints a name), the same list expanded here
    (:func:`expand_nodelist`), then ``SLURM_LAUNCH_NODE_IPADDR`` (the node srun
    was started from: the batch host under ``sbatch``, which is the job's
    first node; a login node if srun was started there, hence last).

    Args:
        env: The environment to read (default: ``os.environ``).
        scontrol_timeout: Seconds to wait for ``scontrol`` (a controller that
            does not answer must not hang the job).

    Returns:
        The host and where it came from, e.g. ``('node01', 'scontrol')``.

    Raises:
        RuntimeError: at once, naming everything tried, when no source works.
    """
    env = os.environ if env is None else env
    tried = []
    nodelist = env.get('SLURM_NODELIST', '').strip()
    if not nodelist:
        tried.append('SLURM_NODELIST: not set')
    else:
        scontrol = shutil.which('scontrol', path=env.get('PATH'))
        if scontrol is None:
            tried.append('scontrol: not found on PATH')
        else:
            try:
                proc = subprocess.run([scontrol, 'show', 'hostnames', nodelist],
                                      capture_output=True, text=True, timeout=scontrol_timeout)
                host = (proc.stdout.split() or [''])[0]
                if proc.returncode == 0 and host:
                    return host, 'scontrol show hostnames'
                detail = (proc.stderr.strip() or proc.stdout.strip() or 'no output')[:200]
                tried.append(f'scontrol show hostnames {nodelist}: exit code '
                             f'{proc.returncode} ({detail})')
            except (OSError, subprocess.TimeoutExpired) as exc:
                tried.append(f'scontrol show hostnames {nodelist}: {exc}')
        try:
            return expand_nodelist(nodelist)[0], 'SLURM_NODELIST'
        except ValueError as exc:
            tried.append(str(exc))
    launch_ip = env.get('SLURM_LAUNCH_NODE_IPADDR', '').strip()
    if launch_ip:
        return launch_ip, 'SLURM_LAUNCH_NODE_IPADDR'
    tried.append('SLURM_LAUNCH_NODE_IPADDR: not set')
    raise RuntimeError(
        '--launcher slurm: no master address for the process group. MASTER_ADDR is not set '
        'and every other source failed: ' + '; '.join(tried) + '. Start the tasks with srun '
        '(tools/slurm_train.sh, tools/slurm_test.sh), or export MASTER_ADDR=<first node> '
        '(e.g. in the sbatch script: export MASTER_ADDR=$(hostname)).')


def _int_var(env: Mapping[str, str], name: str) -> int:
    value = env.get(name)
    if value is None or not value.strip().isdigit():
        raise RuntimeError(
            f'--launcher slurm needs {name} (set by srun for every task), got '
            f'{"nothing" if value is None else repr(value)}: start the tool with srun, e.g. '
            'through tools/slurm_train.sh / tools/slurm_test.sh, or use --launcher pytorch '
            'with tools/dist_train.sh.')
    return int(value)


def slurm_dist_env(env: Optional[Mapping[str, str]] = None) -> tuple[dict[str, str], str]:
    """torch.distributed's variables for a task started by srun.

    ``RANK`` = ``SLURM_PROCID``, ``WORLD_SIZE`` = ``SLURM_NTASKS``,
    ``LOCAL_RANK`` = ``SLURM_LOCALID`` (the task's index on its node: the GPU it
    takes), ``LOCAL_WORLD_SIZE`` = ``SLURM_NTASKS_PER_NODE`` when srun was given
    ``--ntasks-per-node``; ``MASTER_ADDR`` from the environment if set, else
    :func:`slurm_master_addr`; ``MASTER_PORT`` from the environment, else 29500
    (torch's default).

    Returns:
        The variables, and a line saying where the master address came from.
    """
    env = os.environ if env is None else env
    rank, world = _int_var(env, 'SLURM_PROCID'), _int_var(env, 'SLURM_NTASKS')
    if rank >= world:
        raise RuntimeError(f'--launcher slurm: SLURM_PROCID={rank} is not below '
                           f'SLURM_NTASKS={world}')
    local = env.get('SLURM_LOCALID')
    out = {'RANK': str(rank), 'WORLD_SIZE': str(world),
           'LOCAL_RANK': str(_int_var(env, 'SLURM_LOCALID')) if local is not None else '0'}
    per_node = env.get('SLURM_NTASKS_PER_NODE', '').strip()
    if per_node.isdigit():
        out['LOCAL_WORLD_SIZE'] = per_node
    if env.get('MASTER_ADDR', '').strip():
        out['MASTER_ADDR'], source = env['MASTER_ADDR'].strip(), 'MASTER_ADDR'
    else:
        out['MASTER_ADDR'], source = slurm_master_addr(env)
    out['MASTER_PORT'] = env.get('MASTER_PORT', '').strip() or '29500'
    line = (f'Slurm task {rank} of {world} (local rank {out["LOCAL_RANK"]}): process group '
            f'at {out["MASTER_ADDR"]}:{out["MASTER_PORT"]} (address from {source})')
    return out, line
