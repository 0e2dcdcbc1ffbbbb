"""A pre-imported interpreter that runs tool scripts in forked children.

Started once per test session by ``conftest.run_tool(..., fork=True)`` as a
new interpreter (the tests' environment); it imports torch, mmengine, mmseg
and depict once (~5-10 s on CI), runs nothing else, and for each request
forks a child that runs ``python SCRIPT ARGS...`` as the interpreter would:
``sys.argv``, ``sys.path[0]``, working directory and environment of the
command, the script as ``__main__``, stdout/stderr to the given files, exit
status from ``SystemExit`` (1 and the traceback for an exception), atexit
handlers and non-daemon threads at exit.

Forking from here, not from pytest: the test process has run models (OpenMP
pools, TensorBoard writer threads, ...), and a child forked from a process
with threads can hang on a lock one of them held.

Protocol (one JSON object a line): a request ``{"args", "cwd", "env", "out",
"err"}`` on stdin; answers ``{"pid": N}`` once forked, then ``{"returncode": N}``.
"""
import json
import os
import sys


def _child(request: dict) -> int:
    import atexit
    import runpy
    import threading
    import traceback
    import warnings

    import torch
    for fd, path in ((1, request['out']), (2, request['err'])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, 'w', buffering=1, closefd=False)
    sys.stderr = open(2, 'w', buffering=1, closefd=False)
    devnull = os.open(os.devnull, os.O_RDONLY)  # not the request pipe
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(0, closefd=False)
    env = request['env']
    os.environ.clear()
    os.environ.update(env)
    warnings.resetwarnings()
    if env.get('PYTHONWARNINGS'):
        warnings.simplefilter(env['PYTHONWARNINGS'])
    os.chdir(request['cwd'])
    torch.set_num_threads(int(env.get('OMP_NUM_THREADS') or os.cpu_count() or 1))
    args = request['args']
    script = os.path.abspath(args[1])
    sys.argv = [args[1], *args[2:]]
    sys.path[0] = os.path.dirname(script)
    code = 0
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001  the interpreter prints it and exits 1
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()  # joins non-daemon threads, as at interpreter exit
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def main() -> None:
    # What every tool imports; depict as the configs' custom_imports would.
    import mmengine.runner  # noqa: F401
    import mmseg.apis  # noqa: F401
    import mmseg.models  # noqa: F401
    import torch  # noqa: F401

    import depict  # noqa: F401
    answer = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the pipe
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request)
            finally:
                os._exit(code)
        answer.write(json.dumps({'pid': pid}) + '\n')
        answer.flush()
        _, status = os.waitpid(pid, 0)
        answer.write(json.dumps({'returncode': os.waitstatus_to_exitcode(status)}) + '\n')
        answer.flush()


if __name__ == '__main__':
    main()
