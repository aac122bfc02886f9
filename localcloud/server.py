"""moto in server mode, on loopback only, with Model Medic's moto extensions installed.

`python -m localcloud.server --port N` serves until it is terminated; `--port 0 --port-file F`
on a port the kernel picks as it binds, written to F once the server listens. The extensions
(localcloud/moto_extensions.py) must live in the server process, which is why the local
cloud runs this rather than the stock `moto_server`.

Simulation settings of the extensions: MODEL_MEDIC_MOTO_UPDATE_SECONDS in this process's
environment sets how long endpoint changes stay `Updating` (default 0: instant), and
MODEL_MEDIC_MOTO_RANGE_MOVES_CAPACITY=1 lets RegisterScalableTarget move a variant's count
into its new range as AWS does (default off here, on in-process: the demo scenarios still
expect moto's old behaviour). At run time the local cloud changes these, the simulated
clock and pending UpdateEndpoint failures through the `/moto-api/model-medic/...` routes
(`LocalCloud.set_update_seconds`, `set_range_moves_capacity`, `set_clock`,
`fail_next_update`).
"""

import argparse
import functools
import os
import signal
import threading
from pathlib import Path

import jsonpath_ng.ext
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import backends
from moto.core import responses
from moto.server import ThreadedMotoServer
from moto.sns.models import Subscription

from localcloud.moto_extensions import RANGE_MOVES_CAPACITY_ENV, install_all, set_range_moves_capacity

HOST = "127.0.0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--port-file", type=Path, help="where to write the port listened on, once listening")
    args = parser.parse_args()
    install_all()
    speed_up_moto()
    # moto's dispatcher lists its package's directories on every request to find the service a
    # host names (a tenth of this process's time in the demo); they do not change while it runs.
    listed = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = functools.partial(iter, listed)
    # The demo scenarios still assume a new scalable-target range moves no instances.
    set_range_moves_capacity(os.environ.get(RANGE_MOVES_CAPACITY_ENV, "0") == "1")
    server = ThreadedMotoServer(ip_address=HOST, port=args.port, verbose=False)
    server.start()
    if args.port_file is not None:  # whole or absent: written beside, then renamed
        _, port = server.get_host_and_port()
        written = args.port_file.with_name(args.port_file.name + ".part")
        written.write_text(str(port))
        written.replace(args.port_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


def speed_up_moto() -> None:
    """moto's work that is the same on every request done once (here and in the tests' process,
    tests/conftest.py); no request's answer changes. Call it after `install_all`.

    - SNS makes a new 2048-bit RSA key for each subscription to sign what it delivers (a 16th of
      a fault-injection run); one key for the process signs alike. Nothing here checks an SNS
      signature, and AWS too signs with one certificate for many messages.
    - Every request lists its response class's functions with `inspect.getmembers` to find the
      action's method; a class's functions do not change once `install_all` has added ours.
    - Every EventBridge delivery without an input template builds a new JSONPath parser (PLY) for
      each of ten fixed paths; a path parsed once is the same expression (`find` only reads it).
    """
    key = functools.cache(lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    Subscription.private_key = lambda self: key()  # type: ignore[assignment,method-assign]
    for module, name in ((responses, "method_names_from_class"), (jsonpath_ng.ext, "parse")):
        setattr(module, name, functools.cache(getattr(module, name)))


if __name__ == "__main__":
    main()
