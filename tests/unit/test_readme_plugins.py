"""The README names every module and filter the collection ships, so a user finds them (ansible-doc does the rest)."""
import glob
import os

REPO = os.path.join(os.path.dirname(__file__), "..", "..")


def _readme():
    with open(os.path.join(REPO, "README.md")) as handle:
        return handle.read()


def test_every_module_and_filter_is_named_in_the_readme():
    readme = _readme()
    modules = [os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO, "plugins", "modules", "*.py"))]
    filters = [os.path.basename(path)[:-4] for path in glob.glob(os.path.join(REPO, "plugins", "filter", "*.yml"))]
    missing = sorted(["lgtm.aws.%s" % name for name in modules if "`lgtm.aws.%s`" % name not in readme]
                     + [name for name in filters if "`%s`" % name not in readme])
    assert missing == [], "README.md does not name: %s" % ", ".join(missing)
