"""torchrun across nodes, with a bounded rendezvous that says what it waits for.

``tools/dist_train.sh`` and ``tools/dist_test.sh`` run this file::

    python depict/engine/launch.py --nnodes N --node-rank R --master-addr A \\
        --master-port P --nproc-per-node G --rdzv-timeout T SCRIPT [ARGS ...]

which is ``torchrun`` with the same options plus ``--rdzv-conf timeout=T``:
torch's own (static) rendezvous then gives up after T seconds instead of its
default 900 (left alone, node 0 printed nothing for 15 minutes, then "Timed out
after 901 seconds waiting for clients. 1/2 clients joined."). What torchrun
cannot do is added here, in a thread beside it while the nodes gather:

* every node checks in, under its ``NODE_RANK``, with the store torchrun's node 0
  serves at ``MASTER_ADDR:PORT`` (a key of ours; it does not count as one of
  torch's clients), so a node knows which node ranks have joined;
* while nodes are missing, a line at least every 15 s: "waiting for 1 more
  node (NODE_RANK 1) at 127.0.0.1:29611, 45 s of 120 s";
* if the rendezvous fails, the last lines name the expected nodes, those that
  joined, the address and what to check, instead of torch's traceback alone.

Run as a file, not ``python -m depict.engine.launch``: importing the package
registers every model (about 10 s on a busy 2-core machine) in a process that
only launches others.
"""
import os.path as osp
import sys

if __name__ == '__main__':  # run by path: this folder's modules must not shadow others
    _HERE = osp.dirname(osp.abspath(__file__))
    sys.path[:] = [p for p in sys.path if osp.abspath(p or '.') != _HERE]

import argparse  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Callable, Optional, TextIO  # noqa: E402

__all__ = ['RendezvousWatch', 'main']

_KEY = 'depict_rendezvous/node'
_LOOPBACK = ('127.0.0.1', 'localhost', '::1')


class RendezvousWatch(threading.Thread):
    """Checks this node in at the master's store and reports who is missing.

    Args:
        nnodes: Nodes expected (``NNODES``).
        node_rank: This node's ``NODE_RANK``.
        addr: ``MASTER_ADDR``.
        port: ``PORT`` (torchrun's ``--master-port``).
        timeout: ``RDZV_TIMEOUT`` in seconds (for the messages; torchrun enforces it).
        interval: Seconds between two waiting lines.
        out: Where the lines go.
        connect: Makes a client of the master's store (tests pass a fake).
    """

    def __init__(self, nnodes: int, node_rank: int, addr: str, port: int, timeout: int,
                 interval: float = 15.0, out: Optional[TextIO] = None,
                 connect: Optional[Callable] = None):
        super().__init__(name='rendezvous-watch', daemon=True)
        self.nnodes, self.node_rank, self.addr, self.port = nnodes, node_rank, addr, port
        self.timeout, self.interval = timeout, interval
        self.out = out
        self.connect = connect or self._connect
        self.reached = False  # this node reached the master's store
        self.joined: dict[int, str] = {}  # node rank -> host name, as checked in
        self.complete = threading.Event()
        self.stop = threading.Event()
        self.start_time = time.monotonic()

    def _connect(self):
        from torch.distributed import TCPStore
        # A plain probe first: torch's client logs an error and a C++ stack trace
        # for every failed attempt, and the master is often not up yet.
        with socket.create_connection((self.addr, self.port), timeout=2):
            pass
        # A plain client (no world size): not counted among torch's clients.
        return TCPStore(self.addr, self.port, None, False, timedelta(seconds=2),
                        wait_for_workers=False)

    def _say(self, text: str) -> None:
        print(f'[rendezvous] {text}', file=self.out or sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.start_time

    def missing(self) -> list[int]:
        return [r for r in range(self.nnodes) if r not in self.joined]

    def _ranks(self, ranks) -> str:
        return ', '.join(str(r) for r in ranks)

    def waiting_line(self) -> str:
        where = f'{self.addr}:{self.port}'
        # (This clock starts a moment before torch's: capped at the timeout.)
        clock = f'{min(self.elapsed(), self.timeout):.0f} s of {self.timeout} s'
        if not self.reached and self.node_rank == 0:
            return (f'node 0 of {self.nnodes}: its own rendezvous store at {where} does not '
                    f'answer (MASTER_ADDR must be an address of this machine), {clock}')
        if not self.reached:
            return (f'node {self.node_rank} of {self.nnodes}: waiting for the master node '
                    f'(NODE_RANK 0) at {where}, {clock}')
        missing = self.missing()
        plural = 'node' if len(missing) == 1 else 'nodes'
        return (f'node {self.node_rank} of {self.nnodes}: waiting for {len(missing)} more '
                f'{plural} (NODE_RANK {self._ranks(missing)}) at {where}, {clock}')

    def run(self) -> None:
        store, next_line = None, min(2.0, self.interval)  # torchrun opens the store first
        while not self.stop.is_set():
            if store is None:
                try:
                    store = self.connect()
                    store.set(f'{_KEY}{self.node_rank}', socket.gethostname())
                    self.reached = True
                except Exception:  # noqa: BLE001  not up (yet): torchrun reports its own errors
                    store = None
            if store is not None:
                try:
                    for rank in self.missing():
                        if store.check([f'{_KEY}{rank}']):
                            self.joined[rank] = store.get(f'{_KEY}{rank}').decode()
                except Exception:  # noqa: BLE001  the master went away: torchrun says why
                    store = None
                if not self.missing():
                    self._say(f'all {self.nnodes} nodes joined at {self.addr}:{self.port} '
                              f'after {self.elapsed():.0f} s')
                    self.complete.set()
                    return
            if self.elapsed() >= next_line:
                self._say(self.waiting_line())
                next_line += self.interval
            self.stop.wait(0.5)

    def failure(self, error: BaseException) -> str:
        """What the user needs to know when the rendezvous did not complete."""
        where = f'{self.addr}:{self.port}'
        lines = []
        if not self.reached and self.node_rank != 0:
            lines.append(f'node {self.node_rank} of {self.nnodes} could not reach the master '
                         f'node (NODE_RANK 0) at {where} within RDZV_TIMEOUT={self.timeout} s.')
            checks = [f'NODE_RANK 0 was started, with the same PORT={self.port} and '
                      f'NNODES={self.nnodes}',
                      f'MASTER_ADDR={self.addr} is the address of node 0 as this node reaches '
                      f'it, and no firewall blocks TCP port {self.port} there']
        else:
            joined = ', '.join(f'{r} ({h})' for r, h in sorted(self.joined.items())) or 'none'
            missing = self.missing()
            lines.append(f'the rendezvous at {where} failed after {self.elapsed():.0f} s '
                         f'(RDZV_TIMEOUT={self.timeout} s): {len(self.joined)} of '
                         f'{self.nnodes} nodes joined (NODE_RANK {joined}); missing: '
                         f'NODE_RANK {self._ranks(missing)}.')
            checks = [f'the same command was started on every node, with NODE_RANK '
                      f'{self._ranks(missing)} on the missing one(s) and the same '
                      f'NNODES={self.nnodes}',
                      f'every node uses MASTER_ADDR={self.addr} and PORT={self.port}',
                      f'{self.addr} is node 0\'s address as the other nodes reach it, and no '
                      f'firewall blocks TCP port {self.port} on node 0']
        if not self.reached and self.node_rank == 0:
            checks.insert(0, f'MASTER_ADDR={self.addr} is an address of this machine (node 0): '
                          'this node could not reach its own store there')
        if self.addr in _LOOPBACK:
            checks.append(f'{self.addr} reaches node 0 only from node 0\'s own machine: '
                          'across machines set MASTER_ADDR to its host name or IP')
        checks.append('the nodes start within RDZV_TIMEOUT of each other (raise it if they '
                      'start far apart)')
        lines.append('Check that:')
        lines += [f'  * {c};' for c in checks]
        lines.append(f'(torch: {type(error).__name__}: {str(error).strip()[:300]})')
        return '\n'.join(lines)


def _positive(name: str, low: int = 1, high: Optional[int] = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{name}={text!r} is not a whole number')
        if value < low or (high is not None and value > high):
            bound = f'from {low} to {high}' if high is not None else f'at least {low}'
            raise argparse.ArgumentTypeError(f'{name}={value}: must be {bound}')
        return value
    return parse


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='torchrun with a bounded, talking rendezvous (tools/dist_train.sh)')
    parser.add_argument('--nnodes', type=_positive('NNODES'), default=1)
    parser.add_argument('--node-rank', type=_positive('NODE_RANK', low=0), default=0)
    parser.add_argument('--master-addr', default='127.0.0.1')
    parser.add_argument('--master-port', type=_positive('PORT', high=65535), default=29500)
    parser.add_argument('--nproc-per-node', type=_positive('GPUS'), default=1)
    parser.add_argument('--rdzv-timeout', type=_positive('RDZV_TIMEOUT'), default=300)
    parser.add_argument('--log-interval', type=float, default=None,
                        help='seconds between two waiting lines (default: a quarter of '
                        'RDZV_TIMEOUT, from 2 to 15)')
    parser.add_argument('script')
    parser.add_argument('script_args', nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.node_rank >= args.nnodes:
        parser.error(f'NODE_RANK={args.node_rank} is not below NNODES={args.nnodes}: '
                     f'the nodes are numbered 0 to {args.nnodes - 1}')
    if not args.master_addr.strip():
        parser.error('MASTER_ADDR is empty: set it to node 0\'s host name or IP')
    return args


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    torchrun_args = [
        f'--nnodes={args.nnodes}', f'--node-rank={args.node_rank}',
        f'--master-addr={args.master_addr}', f'--master-port={args.master_port}',
        f'--nproc-per-node={args.nproc_per_node}',
        f'--rdzv-conf=timeout={args.rdzv_timeout}',  # torch's static rendezvous honours it
        args.script, *args.script_args
    ]
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    watch = None
    if args.nnodes > 1:
        interval = args.log_interval or min(15.0, max(2.0, args.rdzv_timeout / 4))
        watch = RendezvousWatch(args.nnodes, args.node_rank, args.master_addr,
                                args.master_port, args.rdzv_timeout, interval)
        if args.master_addr in _LOOPBACK:
            watch._say(f'MASTER_ADDR={args.master_addr}: every node must run on this machine '
                       '(across machines, set MASTER_ADDR to node 0\'s host name or IP)')
        watch.start()
    try:
        torchrun.main(torchrun_args)
    except Exception as exc:  # noqa: BLE001
        if (watch is None or watch.complete.is_set()
                or isinstance(exc, (ChildFailedError, SignalException))):
            raise  # not the rendezvous (a worker failed, or a signal): torchrun's report stands
        watch.stop.set()
        print(f'[rendezvous] FAILED: {watch.failure(exc)}', file=sys.stderr, flush=True)
        return 1
    finally:
        if watch is not None:
            watch.stop.set()
    return 0


if __name__ == '__main__':
    sys.exit(main())
