"""Start the service: `python -m {{ cookiecutter.package_name }}.serve [--host H] [--port P]`.

uvicorn runs WORKERS worker processes (WORKERS, or WEB_CONCURRENCY): the same setting each worker's start-up sizing
check multiplies its pool by, so the processes started and the processes counted cannot disagree. The image's
command; for development `uvicorn {{ cookiecutter.package_name }}.main:app --reload` is handier.
"""

import argparse
import sys

import uvicorn

from {{ cookiecutter.package_name }}.settings import ConfigurationError, get_settings

APP = "{{ cookiecutter.package_name }}.main:app"
GRACEFUL_SHUTDOWN_SECONDS = 20


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}.serve",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (the image passes 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited, listening socket instead")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        settings = get_settings()
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    uvicorn.run(
        APP,
        host=args.host,
        port=args.port,
        fd=args.fd,
        workers=settings.workers,
        proxy_headers=True,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
