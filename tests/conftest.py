"""Make ``ansible_collections.lgtm.aws`` importable for pytest.

The repository root is the collection; ``make`` links it into
``.collections/ansible_collections/lgtm/aws``. Ansible's own collection finder
then resolves this collection and every collection bundled with the
``ansible`` package (amazon.aws, ...), the same way ansible-test does.
"""

import os
import sys

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".collections")


def _install_collection_finder():
    link = os.path.join(COLLECTIONS_PATH, "ansible_collections", "lgtm", "aws")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(REPO_ROOT, os.path.dirname(link)), link)
    bundled = [p for p in sys.path if os.path.isdir(os.path.join(p, "ansible_collections"))]
    _AnsibleCollectionFinder(paths=[COLLECTIONS_PATH] + bundled)._install()


_install_collection_finder()

# Helpers shared by unit and integration tests (tests/eks_chart_keys.py, tests/aws_proxy.py) import by name.
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))
