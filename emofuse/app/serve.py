"""Start the app's Streamlit server without contacting anything outside this machine.

``emofuse app`` runs ``python -m emofuse.app.serve run emofuse/app/main.py ...``: Streamlit's own command line,
except that the "External URL" of its start-up banner is not looked up (Streamlit asks checkip.amazonaws.com
for it when the server listens on every interface).
"""

from __future__ import annotations

import sys


def main() -> None:
    from streamlit import net_util
    from streamlit.web import cli

    net_util._external_ip = ""  # a known (empty) answer: get_external_ip() returns it without asking the network
    sys.argv = ["streamlit", *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
