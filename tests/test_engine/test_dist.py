"""depict.engine.dist: the process group is destroyed at the end of a run."""
import torch.distributed as dist

from depict.engine import shutdown_distributed


def test_shutdown_destroys_the_group_and_is_a_no_op_without_one(tmp_path):
    shutdown_distributed()  # no group: nothing to do
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    assert dist.is_initialized()
    shutdown_distributed()
    assert not dist.is_initialized()


# ------------------------------------------------- the launchers' environment

import io  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

import pytest  # noqa: E402

from depict.engine.dist import prepare_launcher_env  # noqa: E402
from depict.engine.launch import RendezvousWatch, parse_args  # noqa: E402
from depict.engine.slurm import expand_nodelist, slurm_dist_env, slurm_master_addr  # noqa: E402


@pytest.mark.parametrize('nodelist, hosts', [
    ('node[01-03,7],gpu5', ['node01', 'node02', 'node03', 'node7', 'gpu5']),
    ('gpu5', ['gpu5']),
    ('a-node[1-2]', ['a-node1', 'a-node2']),
    ('n[8-10]', ['n8', 'n9', 'n10']),  # no padding unless written
    ('n[008-010]', ['n008', 'n009', 'n010']),
    ('rack[1-2]-n[1-2]', ['rack1-n1', 'rack1-n2', 'rack2-n1', 'rack2-n2']),
    ('x[1,3],y,z[05]', ['x1', 'x3', 'y', 'z05']),
    (' node1 ', ['node1']),
])
def test_expand_nodelist(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize('nodelist, problem', [
    ('', 'empty'), ('node[1-3', 'without "]"'), ('node1-3]', 'without "["'),
    ('node[3-1]', 'backwards'), ('node[a-b]', 'not a number'), ('a,,b', 'empty item'),
    ('node[[1]]', 'nested'),
])
def test_expand_nodelist_names_the_fault(nodelist, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        expand_nodelist(nodelist)


def _bin(tmp_path, scontrol_body=None) -> str:
    """A PATH of one folder, with an scontrol script if given."""
    folder = tmp_path / 'bin'
    folder.mkdir(parents=True, exist_ok=True)
    if scontrol_body is not None:
        tool = folder / 'scontrol'
        tool.write_text('#!/bin/sh\n' + scontrol_body + '\n')
        tool.chmod(0o755)
    return str(folder)


def test_master_addr_from_scontrol_only_when_it_works(tmp_path):
    env = dict(SLURM_NODELIST='node[01-02]', SLURM_LAUNCH_NODE_IPADDR='10.0.0.9')
    good = _bin(tmp_path / 'good', 'echo "$3" >&2; echo node01.cluster; echo node02.cluster')
    assert slurm_master_addr(dict(env, PATH=good)) == ('node01.cluster',
                                                       'scontrol show hostnames')
    # Failing, or printing nothing: the error text never becomes the address.
    failing = _bin(tmp_path / 'bad', 'echo "/bin/sh: 1: scontrol: not found"; exit 127')
    assert slurm_master_addr(dict(env, PATH=failing)) == ('node01', 'SLURM_NODELIST')
    silent = _bin(tmp_path / 'silent', 'exit 0')
    assert slurm_master_addr(dict(env, PATH=silent)) == ('node01', 'SLURM_NODELIST')
    missing = _bin(tmp_path / 'none')
    assert slurm_master_addr(dict(env, PATH=missing)) == ('node01', 'SLURM_NODELIST')
    hanging = _bin(tmp_path / 'hang', 'sleep 30')
    start = time.monotonic()
    assert slurm_master_addr(dict(env, PATH=hanging),
                             scontrol_timeout=0.5) == ('node01', 'SLURM_NODELIST')
    assert time.monotonic() - start < 10


def test_master_addr_falls_back_to_the_launch_node_then_fails_naming_what_it_tried(tmp_path):
    path = _bin(tmp_path)
    assert slurm_master_addr(dict(PATH=path, SLURM_NODELIST='node[2-1]',
                                  SLURM_LAUNCH_NODE_IPADDR='10.0.0.9')) == (
                                      '10.0.0.9', 'SLURM_LAUNCH_NODE_IPADDR')
    with pytest.raises(RuntimeError) as error:
        slurm_master_addr(dict(PATH=path, SLURM_NODELIST='node[2-1]'))
    message = str(error.value)
    for tried in ('scontrol: not found on PATH', "'node[2-1]'", 'runs backwards',
                  'SLURM_LAUNCH_NODE_IPADDR: not set', 'export MASTER_ADDR'):
        assert tried in message, message
    with pytest.raises(RuntimeError, match='SLURM_NODELIST: not set'):
        slurm_master_addr(dict(PATH=path))


def test_slurm_env_follows_slurm_localid_on_a_node_with_two_local_ranks(tmp_path):
    base = dict(PATH=_bin(tmp_path), SLURM_NTASKS='4', SLURM_NTASKS_PER_NODE='2',
                SLURM_NODELIST='gpu[07-08]', MASTER_PORT='29611')
    # Task 3 is local rank 1 on the second node, whatever LOCAL_RANK said.
    values, line = slurm_dist_env(dict(base, SLURM_PROCID='3', SLURM_LOCALID='1',
                                       LOCAL_RANK='0'))
    assert values == dict(RANK='3', WORLD_SIZE='4', LOCAL_RANK='1', LOCAL_WORLD_SIZE='2',
                          MASTER_ADDR='gpu07', MASTER_PORT='29611')
    assert line == ('Slurm task 3 of 4 (local rank 1): process group at gpu07:29611 '
                    '(address from SLURM_NODELIST)')
    values, _ = slurm_dist_env(dict(base, SLURM_PROCID='2', SLURM_LOCALID='0',
                                    MASTER_ADDR='head'))  # MASTER_ADDR set: kept
    assert values['LOCAL_RANK'] == '0' and values['MASTER_ADDR'] == 'head'
    with pytest.raises(RuntimeError, match='needs SLURM_PROCID .* start the tool with srun'):
        slurm_dist_env(dict(base))
    with pytest.raises(RuntimeError, match='SLURM_PROCID=4 is not below SLURM_NTASKS=4'):
        slurm_dist_env(dict(base, SLURM_PROCID='4'))


def test_prepare_launcher_env(monkeypatch, tmp_path):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('PATH', _bin(tmp_path))
    with pytest.raises(RuntimeError, match='--launcher pytorch needs RANK.*tools/dist_train.sh'):
        prepare_launcher_env('pytorch', local_rank=None)
    monkeypatch.setenv('LOCAL_RANK', '0')  # as the tools once set it before the mapping
    for key, value in dict(SLURM_PROCID='1', SLURM_NTASKS='2', SLURM_LOCALID='1',
                           SLURM_NODELIST='localhost').items():
        monkeypatch.setenv(key, value)
    prepare_launcher_env('slurm')
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK'],
            os.environ['MASTER_ADDR'], os.environ['MASTER_PORT']) == ('1', '2', '1',
                                                                      'localhost', '29500')
    with pytest.raises(ValueError, match='unknown launcher'):
        prepare_launcher_env('lsf')


# --------------------------------------- depict/engine/launch.py (dist_train.sh)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


def test_rendezvous_watch_names_missing_nodes_then_sees_them_join():
    port = _free_port()
    server = dist.TCPStore('127.0.0.1', port, None, True, timedelta(seconds=10),
                           wait_for_workers=False)  # what torchrun's node 0 serves
    out = io.StringIO()
    watches = [RendezvousWatch(3, r, '127.0.0.1', port, timeout=120, interval=0.1, out=out)
               for r in range(3)]
    watches[0].start()
    try:
        _wait_for(lambda: 'waiting for 2 more nodes' in out.getvalue())
        assert re.search(r'node 0 of 3: waiting for 2 more nodes \(NODE_RANK 1, 2\) at '
                         rf'127\.0\.0\.1:{port}, \d+ s of 120 s', out.getvalue())
        message = watches[0].failure(dist.DistStoreError('1/3 clients joined'))
        assert re.search(
            rf'the rendezvous at 127\.0\.0\.1:{port} failed after \d+ s \(RDZV_TIMEOUT=120 s\): '
            rf'1 of 3 nodes joined \(NODE_RANK 0 \({re.escape(socket.gethostname())}\)\); '
            'missing: NODE_RANK 1, 2\\.', message), message
        assert 'with NODE_RANK 1, 2 on the missing one(s) and the same NNODES=3' in message
        assert f'every node uses MASTER_ADDR=127.0.0.1 and PORT={port}' in message
        assert 'across machines set MASTER_ADDR' in message  # a loopback address
        assert message.endswith('(torch: DistStoreError: 1/3 clients joined)')
        for watch in watches[1:]:
            watch.start()
        for watch in watches:
            assert watch.complete.wait(20)
        assert out.getvalue().count(f'all 3 nodes joined at 127.0.0.1:{port}') == 3
    finally:
        for watch in watches:
            watch.stop.set()
        del server


def test_rendezvous_watch_of_a_node_that_cannot_reach_node_0():
    port = _free_port()  # nobody listens
    watch = RendezvousWatch(2, 1, '127.0.0.1', port, timeout=60, interval=0.1,
                            out=io.StringIO())
    watch.start()
    try:
        _wait_for(lambda: 'waiting for the master node' in watch.out.getvalue())
        assert not watch.reached
        message = watch.failure(TimeoutError('client socket timed out'))
        assert message.startswith(f'node 1 of 2 could not reach the master node (NODE_RANK 0) '
                                  f'at 127.0.0.1:{port} within RDZV_TIMEOUT=60 s.')
        assert f'NODE_RANK 0 was started, with the same PORT={port} and NNODES=2' in message
    finally:
        watch.stop.set()


@pytest.mark.parametrize('argv, problem', [
    (['--nnodes', '2', '--node-rank', '2'], 'NODE_RANK=2 is not below NNODES=2'),
    (['--rdzv-timeout', 'soon'], "RDZV_TIMEOUT='soon' is not a whole number"),
    (['--rdzv-timeout', '0'], 'RDZV_TIMEOUT=0: must be at least 1'),
    (['--master-port', '70000'], 'PORT=70000: must be from 1 to 65535'),
    (['--master-addr', ' '], 'MASTER_ADDR is empty'),
])
def test_launch_rejects_bad_settings_naming_the_variable(argv, problem, capsys):
    with pytest.raises(SystemExit):
        parse_args([*argv, 'train.py'])
    assert problem in capsys.readouterr().err


def test_launch_defaults():
    args = parse_args(['tools/train.py', 'CONFIG', '--launcher', 'pytorch'])
    assert (args.nnodes, args.node_rank, args.rdzv_timeout) == (1, 0, 300)
    assert args.script_args == ['CONFIG', '--launcher', 'pytorch']
