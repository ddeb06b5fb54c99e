"""Protocol Playground entry point.

    python app.py [--host H] [--port P] [--async-mode eventlet|gevent|threading]

serves http://127.0.0.1:5000 by default with eventlet (PLAYGROUND_ASYNC_MODE
sets the default mode too). Monkey-patching happens here, in the __main__ path
only and before anything else is imported; modules that tests import never
patch. `create_app` is the factory for other servers and for tests.
"""

import argparse
import gc
import os
import sys


def create_app(config=None):
    from playground import create_app as factory
    return factory(config)


def _args(argv):
    ap = argparse.ArgumentParser(description="Run the Protocol Playground server.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--async-mode", choices=("eventlet", "gevent", "threading"),
                    default=os.environ.get("PLAYGROUND_ASYNC_MODE") or "eventlet")
    return ap.parse_args(argv)


def _patch(mode):
    if mode == "eventlet":
        import warnings
        # Eventlet is the product's chosen default even though it now
        # warns on import that it is deprecated; the warning says nothing to act on.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet
        eventlet.monkey_patch()
    elif mode == "gevent":
        from gevent import monkey
        monkey.patch_all()


def main(argv=None):
    args = _args(sys.argv[1:] if argv is None else argv)
    _patch(args.async_mode)
    app = create_app({"PLAYGROUND_ASYNC_MODE": args.async_mode})
    from playground import serving
    # Everything built so far (modules, the app) lives as long as the process:
    # keep it out of the garbage collector's full scans, which pause every client.
    gc.freeze()
    print(f"Protocol Playground on http://{args.host}:{args.port}/ ({args.async_mode})", flush=True)
    serving.run(app, args.host, args.port, args.async_mode)


if __name__ == "__main__":
    main()
