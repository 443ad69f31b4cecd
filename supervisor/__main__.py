"""``python -m supervisor``: see :mod:`supervisor.cli`."""

import sys

# Running a site: launch the zygote before the heavy imports, so that it imports
# on the other core meanwhile (cli.cmd_run closes it if the site spawns plainly).
_zygote = None
if not sys.argv[1:] or sys.argv[1] == "run" or sys.argv[1].startswith("--config"):
    from actors.process import private_files
    from supervisor.zygote import Zygote

    private_files()  # before anything is created or started: the whole site inherits it

    _zygote = Zygote()

from supervisor.cli import main  # noqa: E402 - after the zygote's launch, on purpose


def _main() -> int:
    """Run; a reader that goes away (``| head``) ends the command quietly, as for git."""
    try:
        code = main(zygote=_zygote)
        sys.stdout.flush()  # what is still buffered meets the closed pipe here
    except BrokenPipeError:
        import os  # noqa: PLC0415 - only on this path

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141  # 128 + SIGPIPE, as a shell reports a command the pipe ended
    return code


if __name__ == "__main__":
    sys.exit(_main())
