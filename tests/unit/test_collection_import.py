import importlib


def test_bundled_amazon_aws_is_importable():
    importlib.import_module("ansible_collections.amazon.aws.plugins.module_utils.modules")


def test_this_collection_is_importable():
    importlib.import_module("ansible_collections.lgtm.aws.plugins")
