"""Which other collections a collection's files use: the scanner behind tests/unit/test_dependencies.py (the
repository) and tests/integration/test_example_repo.py (the installed artifact).

Modules and roles by FQCN, filters/tests/lookups inside Jinja (``map('community.general.dict_kv', ...)``),
connection and inventory plugins, action groups, ``ansible_collections.X.Y`` imports and documentation fragments
are uses; prose (comments, descriptions, task names, module EXAMPLES, messages) is not.
"""

import ast
import os
import re

import yaml

SELF = "lgtm.aws"
# What ships in the artifact and runs for a user; the rest of the repository is development only.
SHIPPED = ("roles", "playbooks", "plugins", "inventories", "meta", "site.yml")
NOT_A_COLLECTION = {"ansible.builtin", "ansible.legacy", SELF}
PROSE_KEYS = {"description", "short_description", "notes", "seealso", "author", "name"}
ROLE_KEYS = {"include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"}
FQCN = re.compile(r"(?<![\w./-])([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[A-Za-z_]\w*")


class _AnyTagLoader(yaml.SafeLoader):
    """Reads Ansible YAML (``!vault``, ``!unsafe``) as plain values."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                                    if isinstance(node, yaml.ScalarNode) else None)


def _names_in_text(text, known):
    return {f"{m.group(1)}.{m.group(2)}" for m in FQCN.finditer(text)} & known


def _names_in_yaml_data(data, known, role_ref=False):
    """Collection names a parsed YAML document uses (keys and values), leaving out prose."""
    used = set()
    if isinstance(data, dict):
        for key, value in data.items():
            key = str(key)
            used |= _names_in_text(key, known)
            if key == "collections" and isinstance(value, list):
                used |= {str(v) for v in value} & known
            elif key in PROSE_KEYS and not role_ref:
                continue
            else:
                used |= _names_in_yaml_data(value, known, role_ref=key in ROLE_KEYS or key == "roles")
    elif isinstance(data, list):
        for item in data:
            used |= _names_in_yaml_data(item, known, role_ref=role_ref)
    elif isinstance(data, str):
        used |= _names_in_text(data, known)
    return used


def names_in_yaml(text, known):
    used = set()
    for doc in yaml.load_all(text, Loader=_AnyTagLoader):  # noqa: S506 - a SafeLoader subclass
        used |= _names_in_yaml_data(doc, known)
    return used


def _doc_fragments(doc_text, known):
    doc = yaml.safe_load(doc_text) or {}
    fragments = doc.get("extends_documentation_fragment") or []
    if isinstance(fragments, str):
        fragments = [fragments]
    return {".".join(f.split(".")[:2]) for f in fragments} & known


def names_in_python(text, known):
    """``ansible_collections.X.Y`` imports, documentation fragments, and strings that are exactly an FQCN
    (e.g. a module name an action plugin runs). Comments, messages and EXAMPLES are prose."""
    used = set()
    for node in ast.walk(ast.parse(text)):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "ansible_collections" and len(parts) >= 3:
                used.add(f"{parts[1]}.{parts[2]}")
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id == "DOCUMENTATION" and isinstance(node.value, ast.Constant):
            used |= _doc_fragments(node.value.value, known)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and FQCN.fullmatch(node.value):
            used |= _names_in_text(node.value, known)
    return used & known


def _plugin_doc_yaml(text, known):
    """A plugin's documentation file (plugins/filter/*.yml): only its documentation fragments are uses."""
    used = set()
    doc = yaml.safe_load(text) or {}
    for value in doc.values():
        if isinstance(value, dict) and value.get("extends_documentation_fragment"):
            used |= _doc_fragments(yaml.safe_dump(value), known)
    return used


def collections_used(root, paths, known):
    """{collection: sorted files that use it} for the given files and directories under ``root``."""
    uses = {}
    for top in paths:
        full = os.path.join(root, top)
        files = [full] if os.path.isfile(full) else [
            os.path.join(d, f) for d, _dirs, names in os.walk(full) for f in names if "__pycache__" not in d]
        for path in files:
            rel = os.path.relpath(path, root)
            if path.endswith((".yml", ".yaml")):
                with open(path) as f:
                    text = f.read()
                found = _plugin_doc_yaml(text, known) if rel.startswith("plugins/") else names_in_yaml(text, known)
            elif path.endswith(".py"):
                with open(path) as f:
                    found = names_in_python(f.read(), known)
            elif path.endswith(".j2"):
                with open(path) as f:
                    found = _names_in_text(f.read(), known)
            else:
                continue
            for name in found - NOT_A_COLLECTION:
                uses.setdefault(name, []).append(rel)
    return {name: sorted(files) for name, files in uses.items()}
