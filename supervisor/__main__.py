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

if __name__ == "__main__":
    sys.exit(main(zygote=_zygote))
