"""moto in server mode, on loopback only, with Model Medic's moto extensions installed.

`python -m localcloud.server --port N` serves until it is terminated. The extensions
(localcloud/moto_extensions.py) must live in the server process, which is why the local
cloud runs this rather than the stock `moto_server`.
"""

import argparse
import signal
import threading

from moto.server import ThreadedMotoServer

from localcloud.moto_extensions import install_all

HOST = "127.0.0.1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    install_all()
    server = ThreadedMotoServer(ip_address=HOST, port=args.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
