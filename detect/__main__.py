"""``python -m detect …``: the ``detect`` command."""

from detect.cli.main import main

main()
