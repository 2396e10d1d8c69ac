"""lgtm.aws.security_groups against moto in-process: groups that refer to each other, in one call."""
from conftest import Retrying

from ansible_collections.lgtm.aws.plugins.modules import security_groups as module

OFFICE = "203.0.113.0/24"


def params(vpc_id, groups, tags=None, state="present"):
    full = []
    for group in groups:
        rules = [dict({"proto": "tcp", "ports": [], "cidr_ip": None, "cidr_ipv6": None, "group_name": None, "group_id": None, "rule_desc": ""}, **r)
                 for r in group.get("rules", [])]
        full.append({"name": group["name"], "description": group.get("description"), "rules": rules})
    return {"vpc_id": vpc_id, "groups": full, "tags": tags or {}, "purge_rules": True, "state": state}


def design(vpc_id, office=OFFICE, tags=None):
    return params(vpc_id, [
        {"name": "t-alb", "description": "alb", "rules": [{"ports": ["443"], "cidr_ip": office, "rule_desc": "office"},
                                                          {"ports": ["80"], "cidr_ip": office, "rule_desc": "office"}]},
        # refers to a group listed after it
        {"name": "t-app", "description": "app", "rules": [{"ports": ["3000"], "group_name": "t-alb", "rule_desc": "from alb"},
                                                          {"ports": ["9090"], "group_name": "t-db"}]},
        {"name": "t-db", "description": "db", "rules": [{"ports": ["2049-2050"], "group_name": "t-app"}]},
    ], tags=tags)


def ingress(ec2, name):
    [group] = [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] == name]
    pairs = set()
    for rule in group["IpPermissions"]:
        pairs |= {(rule["FromPort"], rule["ToPort"], r["CidrIp"]) for r in rule.get("IpRanges", [])}
        pairs |= {(rule["FromPort"], rule["ToPort"], r["GroupId"]) for r in rule.get("UserIdGroupPairs", [])}
    return group, pairs


def test_groups_referring_to_each_other_in_one_call_then_nothing_to_do(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    changed, diffs, result = module.ensure_present(Retrying(ec2), design(vpc, tags={"Project": "lgtm"}), False, print)
    assert changed and result["created"] == ["t-alb", "t-app", "t-db"] and len(diffs) == 3
    ids = result["group_ids"]
    alb, alb_rules = ingress(ec2, "t-alb")
    assert alb_rules == {(443, 443, OFFICE), (80, 80, OFFICE)}
    assert {t["Key"]: t["Value"] for t in alb["Tags"]} == {"Project": "lgtm", "Name": "t-alb"}
    assert ingress(ec2, "t-app")[1] == {(3000, 3000, ids["t-alb"]), (9090, 9090, ids["t-db"])}
    assert ingress(ec2, "t-db")[1] == {(2049, 2050, ids["t-app"])}
    changed, diffs, result = module.ensure_present(Retrying(ec2), design(vpc, tags={"Project": "lgtm"}), False, print)
    assert (changed, diffs, result["updated"]) == (False, [], [])
    assert result["group_ids"] == ids


def test_changed_rules_and_tags_are_set_check_mode_changes_nothing(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    module.ensure_present(Retrying(ec2), design(vpc, tags={"A": "1"}), False, print)
    changed, diffs, result = module.ensure_present(Retrying(ec2), design(vpc, office="198.51.100.0/24", tags={"B": "2"}), True, print)
    assert changed and result["updated"] == ["t-alb", "t-app", "t-db"]
    assert "tcp 443 from 203.0.113.0/24 (office)\n" in diffs[0]["before"] and "tcp 443 from 198.51.100.0/24 (office)\n" in diffs[0]["after"]
    assert ingress(ec2, "t-alb")[1] == {(443, 443, OFFICE), (80, 80, OFFICE)}, "check mode changes nothing"
    module.ensure_present(Retrying(ec2), design(vpc, office="198.51.100.0/24", tags={"B": "2"}), False, print)
    group, rules = ingress(ec2, "t-alb")
    assert rules == {(443, 443, "198.51.100.0/24"), (80, 80, "198.51.100.0/24")}
    assert {t["Key"]: t["Value"] for t in group["Tags"]} == {"B": "2", "Name": "t-alb"}
    assert module.ensure_present(Retrying(ec2), design(vpc, office="198.51.100.0/24", tags={"B": "2"}), False, print)[0] is False


def test_check_mode_on_a_fresh_vpc_and_teardown(aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    changed, _diffs, result = module.ensure_present(Retrying(ec2), design(vpc), True, print)
    assert changed and result["group_ids"] == {"t-alb": None, "t-app": None, "t-db": None}
    module.ensure_present(Retrying(ec2), design(vpc), False, print)
    # The db group stops referring to the app group, so the app group can go and the db group stays.
    module.ensure_present(Retrying(ec2), params(vpc, [{"name": "t-db", "description": "db"}]), False, print)
    assert ingress(ec2, "t-db")[1] == set()
    gone = params(vpc, [{"name": "t-app"}, {"name": "t-alb"}], state="absent")
    changed, _diffs, result = module.ensure_absent(Retrying(ec2), gone, False)
    assert changed and result["deleted"] == ["t-app", "t-alb"]
    assert {g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]} == {"default", "t-db"}
    assert module.ensure_absent(Retrying(ec2), gone, False)[0] is False


def test_bad_arguments_are_all_reported():
    problems = module.check_params(params("vpc-0abc", [
        {"name": "a", "rules": [{"ports": ["443"], "cidr_ip": "office"}, {"ports": [], "group_name": "b"},
                                {"ports": ["70000"], "cidr_ip": "10.0.0.0/8", "group_name": "b"},
                                {"proto": "sctp", "ports": ["1"], "cidr_ip": "10.0.0.0/8"}]}]))
    assert any("description is required" in p for p in problems)
    assert any("'office' is not an IPv4 network" in p for p in problems)
    assert any("rules[1]: ports are required" in p for p in problems)
    assert any("rules[2]: give exactly one of" in p for p in problems) and any("port '70000'" in p for p in problems)
    assert any("proto 'sctp'" in p for p in problems)
