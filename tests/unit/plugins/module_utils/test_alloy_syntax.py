import glob
import os

import pytest

from ansible_collections.lgtm.aws.plugins.module_utils import alloy_syntax as a

FIXTURES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "alloy", "*.alloy")))


# Writing ---------------------------------------------------------------------


def test_write_block_with_aligned_attributes_tabs_and_nested_blocks():
    text = a.write([{
        "name": "prometheus.remote_write", "label": "mimir",
        "body": {"external_labels": {"env": "prod"}},
        "blocks": [{"name": "endpoint", "body": {"url": "http://m/api/v1/push", "headers": {"X-Scope-OrgID": "aws-rag-ec2"}}}],
    }])
    assert text == (
        'prometheus.remote_write "mimir" {\n'
        "\texternal_labels = {\n\t\tenv = \"prod\",\n\t}\n\n"
        "\tendpoint {\n"
        '\t\turl     = "http://m/api/v1/push"\n'
        '\t\theaders = {\n\t\t\t"X-Scope-OrgID" = "aws-rag-ec2",\n\t\t}\n'
        "\t}\n}\n"
    )


def test_expressions_are_written_raw():
    text = a.write({"name": "prometheus.scrape", "label": "x", "body": {
        "targets": a.expr("prometheus.exporter.unix.host.targets"),
        "forward_to": [a.expr("prometheus.remote_write.mimir.receiver")],
        "job_name": a.expr('sys.env("JOB")'),
    }})
    assert "targets    = prometheus.exporter.unix.host.targets\n" in text
    assert "forward_to = [prometheus.remote_write.mimir.receiver]\n" in text
    assert 'job_name   = sys.env("JOB")\n' in text


@pytest.mark.parametrize("value, written", [
    ('say "hi"\n', r'"say \"hi\"\n"'), ("back\\slash", r'"back\\slash"'), ("tab\tbell\a", r'"tab\tbell\a"'),
    ("\x01", r'"\x01"'), ("한글", '"한글"'), (True, "true"), (None, "null"), (3, "3"), (2.5, "2.5"), ([], "[]"), ({}, "{}"),
])
def test_literals(value, written):
    assert a.write_value(value) == written


def test_repeated_nested_blocks_keep_order():
    rules = [{"name": "rule", "body": {"target_label": "l%d" % i}} for i in range(3)]
    text = a.write({"name": "discovery.relabel", "label": "r", "body": {"targets": []}, "blocks": rules})
    assert [line.strip() for line in text.splitlines() if "target_label" in line] == ['target_label = "l0"', 'target_label = "l1"', 'target_label = "l2"']


def test_long_lists_go_multiline_with_trailing_commas():
    text = a.write_value(["collector-%02d" % i for i in range(10)])
    assert text.startswith("[\n\t") and text.endswith(",\n]")


@pytest.mark.parametrize("block, message", [
    ({"label": "x"}, "must be a mapping with a 'name'"),
    ({"name": "loki.write", "labels": "x"}, "unknown keys labels"),
    ({"name": "loki write"}, "dot-separated identifiers"),
    ({"name": "loki.write", "label": "x", "body": {"bad-key": 1}}, "attribute 'bad-key' must be an identifier"),
])
def test_bad_blocks(block, message):
    with pytest.raises(ValueError, match=message):
        a.write([block])


def test_unwritable_value():
    with pytest.raises(TypeError):
        a.write_value(object())


# Parsing ---------------------------------------------------------------------


def test_parse_literals_escapes_raw_strings_and_comments():
    text = '// c\nx "l" { /* inline */ s = "a\\tb\\u00e9\\x21\\101\\"" \n r = `C:\\path` \n'
    text += ' n = -1.5e2 \n b = [1, 2,] \n o = {k = null, "q k" = true,} }'
    (block,) = a.parse(text)
    assert block["body"] == {"s": 'a\tbé!A"', "r": "C:\\path", "n": a.expr("-150.0"), "b": [1, 2], "o": {"k": None, "q k": True}}


def test_parse_keeps_non_literals_as_canonical_expressions():
    (block,) = a.parse('x "l" { v = 1+2*3 \n w = !(a.b.c || f( 1 ,"x"))[0] \n l = [loki.write.x.receiver, "s"] }')
    assert block["body"]["v"] == a.expr("1 + 2 * 3")
    assert block["body"]["w"] == a.expr('!(a.b.c || f(1, "x"))[0]')
    assert block["body"]["l"] == [a.expr("loki.write.x.receiver"), "s"]


def test_data_round_trip():
    data = [{"name": "loki.write", "label": "l", "body": {"external_labels": {"a": "b", "c-d": 1}},
             "blocks": [{"name": "endpoint", "body": {"url": "u", "tenant_id": "t", "ok": a.expr("sys.env(\"X\")")}, "blocks": []}]}]
    assert a.parse(a.write(data)) == data


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.basename(p) for p in FIXTURES])
def test_real_configs_parse_check_and_round_trip(path):
    with open(path) as handle:
        text = handle.read()
    assert a.check(text) == []
    blocks = a.parse(text)
    rewritten = a.write(blocks)
    assert a.parse(rewritten) == blocks
    assert a.write(a.parse(rewritten)) == rewritten, "writing is stable"


# Checking --------------------------------------------------------------------


@pytest.mark.parametrize("text, line, column, message", [
    ('loki.write "a" {\n  endpoint {\n    url = \n  }\n}', 4, 3, "expected a value, found '}'"),
    ('loki.write "a" {\n  url = "x', 2, 9, "unterminated string literal"),
    ('loki.write "a" {', 1, 17, "unexpected end of file, expected '}'"),
    ('x = 1', 1, 1, "not allowed at the top level"),
    ('loki.write `a` { }', 1, 12, "label must be a double-quoted string"),
    ('a "l" { v = [1 2] }', 1, 16, "expected ',' or ']'"),
    ('a "l" { v = {k 1} }', 1, 16, "'=' after object key"),
    ('a "l" { v = "\\q" }', 1, 14, "invalid escape sequence"),
    ('a "l" {\n  v = 1\n  v = 2\n}', 3, 3, "attribute 'v' is set twice"),
    ('a "l" { v = 1 @ }', 1, 15, "unexpected character '@'"),
    ('/* never closed\n', 1, 1, "unterminated block comment"),
])
def test_syntax_errors_have_line_and_column(text, line, column, message):
    (error,) = a.check(text)
    assert (error["line"], error["column"]) == (line, column)
    assert message in error["message"]


def test_duplicate_component_labels():
    errors = a.check('loki.write "out" { }\nloki.write "other" { }\nloki.write "out" { }\n')
    assert errors == [{"line": 3, "column": 1, "message": 'duplicate component loki.write "out" (first defined on line 1)'}]


def test_same_label_on_different_components_is_fine():
    assert a.check('loki.write "x" { }\nprometheus.remote_write "x" { }\n') == []


def test_undefined_references_are_reported_where_used():
    text = 'prometheus.scrape "s" {\n  targets = prometheus.exporter.unix.host.targets\n  forward_to = [prometheus.remote_write.mimir.receiver]\n}\n'
    errors = a.check(text)
    assert [(e["line"], e["column"]) for e in errors] == [(2, 13), (3, 17)]
    assert errors[1]["message"] == "reference to undefined component: prometheus.remote_write.mimir.receiver"


def test_stdlib_and_arguments_are_not_components():
    assert a.check('x "l" { a = sys.env("A") \n b = constants.hostname \n c = string.format("%s", "x") \n d = env("B") }') == []


def test_declare_scope_sees_its_own_components_only_inside():
    text = ('declare "d" {\n prometheus.remote_write "inner" { }\n export "r" { value = prometheus.remote_write.inner.receiver }\n}\n'
            'prometheus.scrape "s" { forward_to = [prometheus.remote_write.inner.receiver] }\n')
    errors = a.check(text)
    assert len(errors) == 1 and errors[0]["line"] == 5


def test_custom_and_imported_components_are_checked():
    text = 'declare "pipe" { }\npipe "a" { }\nimport.file "m" { filename = "f" }\nx "y" { v = [pipe.a.out, pipe.b.out, m.thing.z.out] }\n'
    errors = a.check(text)
    assert [e["message"] for e in errors] == ["reference to undefined component: pipe.b.out", "reference to undefined component: m.thing.z.out"]


def test_a_two_thousand_line_config_checks_clean():
    block = 'prometheus.remote_write "w%d" {\n\tendpoint {\n\t\turl = "http://m"\n\t}\n}\n'
    text = "".join(block % i for i in range(400))
    assert a.check(text) == []
