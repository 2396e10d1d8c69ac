"""The docs state what the code does: every IAM action granted is documented with its reason."""

import os

from ansible_collections.lgtm.aws.plugins.module_utils import iam_documents as docs

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def granted():
    tables = [docs.S3_BUCKET_ACTIONS, docs.S3_OBJECT_ACTIONS, docs.TEMPO_EXTRA_OBJECT_ACTIONS, docs.KMS_ACTIONS,
              docs.EFS_CLIENT_ACTIONS, docs.DISCOVERY_ACTIONS, docs.CLOUDWATCH_READ_ACTIONS, docs.EC2_AGENT_ACTIONS]
    tables += list(docs.SECRET_READ_ACTIONS.values())
    return [entry for table in tables for entry in table]


def test_every_granted_action_is_documented_with_its_reason():
    with open(os.path.join(REPO_ROOT, "docs", "identity.md")) as handle:
        text = handle.read()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "| `" in line]
    for action, reason in granted():
        assert any("`%s` | %s |" % (action, reason) in row for row in rows), action
    documented = {row.split("`")[1] for row in rows if row.count("`") >= 2 and ":" in row.split("`")[1]}
    assert documented <= {action for action, _reason in granted()}, documented - {a for a, _r in granted()}


def test_every_filter_has_documentation():
    import importlib
    import yaml

    import glob

    modules = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(REPO_ROOT, "plugins", "filter", "*.py")))
    assert "alloy" in modules
    for module in modules:
        plugin = importlib.import_module("ansible_collections.lgtm.aws.plugins.filter." + module).FilterModule()
        for name in plugin.filters():
            with open(os.path.join(REPO_ROOT, "plugins", "filter", name + ".yml")) as handle:
                doc = yaml.safe_load(handle)
            assert doc["DOCUMENTATION"]["name"] == name
            assert doc["DOCUMENTATION"]["short_description"] and doc["EXAMPLES"] and doc["RETURN"]["_value"]
