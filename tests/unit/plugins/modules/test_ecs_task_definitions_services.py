"""lgtm.aws.ecs_task_definitions and lgtm.aws.ecs_services against moto in-process: many in one call each."""
import copy

from conftest import Retrying

from ansible_collections.lgtm.aws.plugins.modules import ecs_services, ecs_task_definitions

ROLE = "arn:aws:iam::123456789012:role/exec"


def definition(family, image="busybox:1.36", environment=None):
    return {"family": family, "cpu": "256", "memory": "512", "network_mode": "awsvpc", "launch_type": "FARGATE",
            "execution_role_arn": ROLE, "task_role_arn": None, "volumes": [],
            "containers": [{"name": family, "image": image, "essential": True, "command": [],
                            "portMappings": [{"containerPort": 9090, "protocol": "tcp"}],
                            "environment": environment or [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}]}


def test_a_new_revision_only_for_the_family_that_changed(aws):
    ecs = Retrying(aws("ecs"))
    params = {"task_definitions": [definition("t-a"), definition("t-b")]}
    changed, diffs, result = ecs_task_definitions.ensure(ecs, params, False)
    assert changed and result["registered"] == ["t-a", "t-b"] and len(diffs) == 2
    assert result["task_definitions"]["t-a"]["revision"] == "t-a:1"
    changed, diffs, result = ecs_task_definitions.ensure(ecs, copy.deepcopy(params), False)
    assert (changed, diffs, result["registered"]) == (False, [], [])
    reordered = {"task_definitions": [definition("t-a", environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
                                      definition("t-b", image="busybox:1.37")]}
    changed, diffs, result = ecs_task_definitions.ensure(ecs, reordered, True)
    assert result["registered"] == ["t-b"] and result["task_definitions"]["t-b"]["revision"] == "t-b:1", "check mode registers nothing"
    assert '"image": "busybox:1.37"' in diffs[0]["after"]
    changed, diffs, result = ecs_task_definitions.ensure(ecs, reordered, False)
    assert result["task_definitions"] == {"t-a": {"arn": result["task_definitions"]["t-a"]["arn"], "revision": "t-a:1", "changed": False},
                                          "t-b": {"arn": result["task_definitions"]["t-b"]["arn"], "revision": "t-b:2", "changed": True}}


def service(name, revision, subnets, group, minimum=100):
    return {"name": name, "task_definition": revision, "desired_count": 1, "launch_type": "FARGATE", "platform_version": "LATEST",
            "subnets": subnets, "security_groups": [group], "assign_public_ip": False, "minimum_healthy_percent": minimum,
            "maximum_percent": 200, "load_balancers": [], "service_registries": [], "propagate_tags": "SERVICE"}


def test_services_created_updated_only_when_they_differ(aws):
    client = aws("ecs")
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.%d.0/24" % i)["Subnet"]["SubnetId"] for i in (1, 2)]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    client.create_cluster(clusterName="c")
    ecs = Retrying(client)
    ecs_task_definitions.ensure(ecs, {"task_definitions": [definition("t-a"), definition("t-b"), definition("t-b", image="x:2")]}, False)
    wanted = {"cluster": "c", "tags": {"Project": "lgtm"},
              "services": [service("s-a", "t-a:1", subnets, group), service("s-b", "t-b:1", subnets, group, minimum=0)]}
    changed, diffs, result = ecs_services.ensure(ecs, copy.deepcopy(wanted), False)
    assert changed and result["created"] == ["s-a", "s-b"]
    [described] = client.describe_services(cluster="c", services=["s-b"], include=["TAGS"])["services"]
    assert described["tags"] == [{"key": "Project", "value": "lgtm"}]
    assert described["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert ecs_services.ensure(ecs, copy.deepcopy(wanted), False)[0] is False
    wanted["services"][1]["task_definition"] = "t-b:2"
    wanted["services"][0]["subnets"] = list(reversed(subnets))  # order means nothing
    changed, diffs, result = ecs_services.ensure(ecs, copy.deepcopy(wanted), True)
    assert changed and result["updated"] == ["s-b"] and "t-b:2" in diffs[0]["after"]
    assert client.describe_services(cluster="c", services=["s-b"])["services"][0]["taskDefinition"].endswith("t-b:1")
    ecs_services.ensure(ecs, copy.deepcopy(wanted), False)
    assert client.describe_services(cluster="c", services=["s-b"])["services"][0]["taskDefinition"].endswith("t-b:2")
    assert ecs_services.ensure(ecs, copy.deepcopy(wanted), False)[0] is False
