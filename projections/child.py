"""The entry point of ``gpureg serve``'s projection child process.

Its first act, before the imports that take a second or more on a busy machine, ties its life
to the server's (:func:`projections.worker_process.exit_with_parent`): a server killed while the
child is still starting takes the child with it. Then it runs ``gpureg projections run`` with
the arguments it was given."""

from __future__ import annotations


def main() -> None:
    from projections.worker_process import exit_with_parent

    exit_with_parent()
    from registry.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
