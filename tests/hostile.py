"""Hostile checkpoints and a loopback HTTP server, for the safe-loading tests.

A hostile checkpoint pickles ``os.system('touch MARKER')``: loading it with
``weights_only=False`` creates the marker file; a safe loader must refuse it,
name the global (``posix.system`` / ``nt.system``) and leave no marker.
"""
import contextlib
import functools
import http.server
import os
import pickle
import shlex
import threading

import torch

#: How the refusal names ``os.system`` (its module is ``posix`` or ``nt``).
SYSTEM_GLOBAL = r'(posix|nt)\.system'


class _RunsCommand:

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {shlex.quote(self.marker)}', ))


def write_hostile_checkpoint(path: str, marker: str, fmt: str = 'zip') -> str:
    """A checkpoint whose unpickling runs a command that creates ``marker``.

    ``fmt``: ``'zip'`` (torch's default), ``'legacy'`` (torch's pre-1.6
    format) or ``'raw'`` (a bare ``pickle.dump``).
    """
    payload = {'state_dict': {'w': torch.ones(1)}, 'meta': {}, 'hook': _RunsCommand(marker)}
    if fmt == 'raw':
        with open(path, 'wb') as f:
            pickle.dump(payload, f, protocol=4)
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=fmt == 'zip')
    return path


@contextlib.contextmanager
def serve_directory(directory: str):
    """Serves ``directory`` on 127.0.0.1 (a free port) and yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):

        def log_message(self, *args) -> None:  # no request lines in the test output
            pass

    handler = functools.partial(Quiet, directory=directory)
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.timeout = 10
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
