"""Loads Cloudgate's moto extensions into the process that runs moto_server.

The start script puts this directory on PYTHONPATH and sets
CLOUDGATE_MOTO_EXTENSIONS=1 for moto_server only; every other Python process
is left alone. A failure here ends the process with
status 78 and a message on stderr: an unpatched moto never answers in place
of a patched one.
"""

import os
import sys


def _chain() -> None:
    # Run the sitecustomize this one shadows (Debian's, a venv's), if any.
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if os.environ.get("CLOUDGATE_MOTO_EXTENSIONS") == "1":
    try:
        import cloudgate_moto

        cloudgate_moto.setup_from_env()
    except Exception as e:  # noqa: BLE001 - report any failure, never hide it
        sys.stderr.write(f"cloudgate_moto: extensions not loaded: {e!r}\n")
        sys.stderr.flush()
        os._exit(78)

_chain()
