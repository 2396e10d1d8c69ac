"""Stand-in for the get-pip.py script ansible-test downloads from a host this project cannot reach.

ansible-test runs this file as ``__main__`` inside a fresh virtualenv, with the
arguments it would give get-pip.py (pip install options and pinned packages).
We bootstrap pip with the interpreter's own ``ensurepip`` and then install the
same pins from PyPI.
"""

import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}


def main(argv):
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], stdout=subprocess.DEVNULL)
    args = [arg for arg in argv if arg not in GET_PIP_ONLY_FLAGS]
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main(sys.argv[1:])
