"""alloy_host_windows: no Windows host runs here, so the PowerShell module's argument spec is read from the .ps1
text and compared with its documentation (the .py beside it) and with the arguments the alloy_host action sends
(the interface in the role's design: module arguments for Windows)."""
import os
import re

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = os.path.join(REPO, "plugins", "modules")

# What the lgtm.aws.alloy_host action sends to the Windows module (names and types).
ACTION_SENDS = {
    "state": "str", "version": "str", "mode": "str", "config": "str", "run_args": "list", "basic_auth_password": "str",
    "http_listen_addr": "str", "ready_timeout": "int", "installer_url": "str", "installer_sha256": "str",
    "installer_path": "str", "install_dir": "str", "data_dir": "str", "registry_key": "str", "service_name": "str",
    "temp_dir": "str",
}
# What the role's Windows tasks used (roles/alloy/vars/main.yml), which the defaults must keep.
ROLE_WINDOWS_DEFAULTS = {
    "install_dir": "C:\\Program Files\\GrafanaLabs\\Alloy",
    "data_dir": "C:\\ProgramData\\GrafanaLabs\\Alloy\\data",
    "registry_key": "HKLM:\\SOFTWARE\\GrafanaLabs\\Alloy",
    "service_name": "Alloy",
    "temp_dir": "C:\\Windows\\Temp\\lgtm-alloy",
    "http_listen_addr": "127.0.0.1:12345",
    "ready_timeout": 60,
}


def ps_value(text):
    """A PowerShell literal of the spec: 'str', 60, $true, @('a', 'b'), @()."""
    text = text.strip()
    if text.startswith("@(") and text.endswith(")"):
        inner = text[2:-1].strip()
        return [ps_value(item) for item in re.findall(r"'(?:[^']|'')*'|[^,\s]+", inner)] if inner else []
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    if text.lower() in ("$true", "$false"):
        return text.lower() == "$true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    raise ValueError("not a literal: %r" % text)


def split_entries(body):
    """key = value; key = value (values may hold @(...) with commas and ';' inside quotes)."""
    entries, depth, quoted, current = [], 0, False, ""
    for char in body:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == ";" and depth == 0 and not quoted:
            entries.append(current)
            current = ""
        else:
            current += char
    entries.append(current)
    out = {}
    for entry in entries:
        if entry.strip():
            key, value = entry.split("=", 1)
            out[key.strip()] = ps_value(value)
    return out


def ps1_spec(text):
    match = re.search(r"\$spec = @\{\s*options = @\{\n(?P<options>.*?)\n    \}\n(?P<rest>.*?)\n\}\n", text, re.S)
    assert match, "the .ps1 has no $spec = @{ options = @{ ... } } block in the expected layout"
    options = {}
    for line in match.group("options").splitlines():
        found = re.fullmatch(r"\s+(\w+) = @\{ (.*) \}", line)
        assert found, "unexpected line in the options: %r" % line
        options[found.group(1)] = split_entries(found.group(2))
    rest = match.group("rest")
    return {
        "options": options,
        "supports_check_mode": "supports_check_mode = $true" in rest,
        "required_if": re.findall(r"@\('(\w+)', '(\w+)', @\(([^)]*)\)\)", rest),
    }


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(MODULES, "alloy_host_windows.ps1"), encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("#!powershell\n") and "#AnsibleRequires -CSharpUtil Ansible.Basic" in text
    return ps1_spec(text)


@pytest.fixture(scope="module")
def doc():
    import ast

    with open(os.path.join(MODULES, "alloy_host_windows.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    docs = {node.targets[0].id: yaml.safe_load(node.value.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, "the .py is a documentation stub only"
    return docs


def test_the_parser_reads_a_spec_it_is_given():
    text = ("$spec = @{\n    options = @{\n        a = @{ type = 'list'; elements = 'str'; default = @() }\n"
            "        b = @{ type = 'str'; choices = @('x', 'y'); no_log = $true }\n    }\n"
            "    required_if = @(\n        , @('a', 'x', @('b'))\n    )\n    supports_check_mode = $true\n}\n")
    parsed = ps1_spec(text)
    assert parsed["options"] == {"a": {"type": "list", "elements": "str", "default": []},
                                 "b": {"type": "str", "choices": ["x", "y"], "no_log": True}}
    assert parsed["required_if"] == [("a", "x", "'b'")] and parsed["supports_check_mode"]


def test_documented_options_are_the_spec_options(spec, doc):
    documented = doc["DOCUMENTATION"]["options"]
    assert set(documented) == set(spec["options"])
    for name, option in spec["options"].items():
        described = documented[name]
        assert described["type"] == option["type"], name
        assert described.get("default") == option.get("default"), name
        assert described.get("choices") == option.get("choices"), name
        assert described.get("elements") == option.get("elements"), name
        assert bool(described.get("no_log")) is False, "no_log belongs in the spec, not the docs: %s" % name
        assert described.get("description"), name


def test_the_spec_supports_check_mode_and_hides_the_password(spec, doc):
    assert spec["supports_check_mode"]
    assert "check mode" in " ".join(doc["DOCUMENTATION"]["notes"])
    secret = [name for name, option in spec["options"].items() if option.get("no_log")]
    assert secret == ["basic_auth_password"]
    assert spec["required_if"] == [("state", "present", "'version', 'config'")]


def test_the_spec_takes_what_the_action_sends(spec):
    assert set(spec["options"]) == set(ACTION_SENDS)
    for name, kind in ACTION_SENDS.items():
        assert spec["options"][name]["type"] == kind, name
    assert spec["options"]["run_args"]["elements"] == "str"


def test_defaults_keep_the_role_windows_layout(spec):
    for name, value in ROLE_WINDOWS_DEFAULTS.items():
        assert spec["options"][name]["default"] == value, name


def test_documented_return_keys_are_the_interface(doc):
    returned = doc["RETURN"]
    assert {"parts", "restarted", "rolled_back", "report", "diff"} <= set(returned)
    assert set(returned["parts"]["sample"]) == {"package", "environment", "arguments", "config", "service"}
    assert set(returned["report"]["contains"]) == {"state", "mode", "version", "config_sha256", "service"}


def test_the_module_sets_every_documented_return_key():
    with open(os.path.join(MODULES, "alloy_host_windows.ps1"), encoding="utf-8") as handle:
        text = handle.read()
    for key in ("parts", "restarted", "rolled_back", "installed_version", "needs_installer", "report", "diff"):
        assert "$module.Result.%s = " % key in text, key
    for part in ("package", "environment", "arguments", "config", "service"):
        assert "$parts.%s = $true" % part in text, part


# No PowerShell runs here, so two checks of the .ps1 text that catch what a parser would: brackets and strings
# that do not close, and commands that are neither defined in the module nor one of the cmdlets it means to use.
CMDLETS = {
    "Add-Type", "Get-ItemProperty", "Get-Service", "Invoke-WebRequest", "Join-Path", "New-Item", "New-Object", "Out-Null",
    "Remove-Item", "Restart-Service", "Select-Object", "Set-ItemProperty", "Set-Service", "Split-Path", "Start-Process",
    "Start-Service", "Start-Sleep", "Stop-Service", "Test-Path", "Where-Object",
}
PAIRS = {"(": ")", "{": "}", "[": "]"}


def ps_code(text):
    """The .ps1 with strings and comments blanked out (subexpressions in double quotes kept as code); raises
    ValueError on an unclosed string or a bracket that does not match."""
    out, stack, i, n = [], [], 0, len(text)

    def code(i, until):
        while i < n:
            char = text[i]
            if char == "`":
                i += 2
                continue
            if char == "<" and text.startswith("<#", i):
                end = text.find("#>", i)
                if end < 0:
                    raise ValueError("unclosed block comment at %d" % i)
                i = end + 2
                continue
            if char == "#":
                while i < n and text[i] != "\n":
                    i += 1
                continue
            if char == "'":
                i += 1
                while True:
                    if i >= n:
                        raise ValueError("unclosed single-quoted string")
                    if text[i] == "'" and text.startswith("''", i):
                        i += 2
                        continue
                    if text[i] == "'":
                        break
                    i += 1
                i += 1
                out.append("''")
                continue
            if char == '"':
                i = dquoted(i + 1)
                out.append('""')
                continue
            if char in PAIRS:
                stack.append(PAIRS[char])
            elif char in PAIRS.values():
                if not stack or stack.pop() != char:
                    raise ValueError("unexpected %r at line %d" % (char, text.count("\n", 0, i) + 1))
                if until is not None and len(stack) == until:
                    return i + 1
            out.append(char)
            i += 1
        if until is not None:
            raise ValueError("unclosed subexpression")
        return i

    def dquoted(i):
        while i < n:
            if text[i] == "`":
                i += 2
            elif text.startswith("$(", i):
                stack.append(")")
                i = code(i + 2, len(stack) - 1)
            elif text[i] == '"':
                return i + 1
            else:
                i += 1
        raise ValueError("unclosed double-quoted string")

    code(0, None)
    if stack:
        raise ValueError("unclosed brackets: %s" % "".join(stack))
    return "".join(out)


def test_the_bracket_check_finds_what_does_not_close():
    assert ps_code("$a = \"x $(if ($b) { \"y\" }) z\" # (\n") == "$a = if ($b) { \"\" }\"\" \n"
    for bad in ("if ($a) { $b", "$a = 'x", "$a = \"$(Get-X\"", "$a = @(1, 2]"):
        with pytest.raises(ValueError):
            ps_code(bad)


def test_the_module_text_parses_and_calls_only_known_commands():
    with open(os.path.join(MODULES, "alloy_host_windows.ps1"), encoding="utf-8") as handle:
        text = handle.read()
    code = ps_code(text)
    defined = set(re.findall(r"(?m)^Function ([A-Z][a-z]+-[A-Za-z]+) \{", code))
    called = set(re.findall(r"(?<![\w$.:-])([A-Z][a-z]+-[A-Z][A-Za-z]+)\b", code))
    assert called - defined - CMDLETS == set()
    assert defined - called == set(), "defined but never used"
