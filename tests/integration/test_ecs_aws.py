"""Seed 004's AWS side against moto: site.yml --tags storage,identity,ecs with inventories/local, then every
promised property read back through boto3 as AWS reports it. The runs are the deployer's (``as_deployer``: an IAM
user holding only the deployer policy for these settings, moto enforcing IAM; teardown's statements only for the
``state: absent`` runs); the assertions read as the administrator."""

import json
import os

from conftest import REPO_ROOT

INVENTORY = os.path.join(REPO_ROOT, "inventories", "local")
SITE = os.path.join(REPO_ROOT, "site.yml")
BASE = "aws-rag-local"
OFFICE = "203.0.113.0/24"
# inventories/local's settings, as lgtm.aws.deployer_policy takes them (the VPC as any: the local fixtures make it).
DEPLOYER = {"name_prefix": "aws-rag", "environment": "local", "eks_cluster_name": "aws-rag-local", "capabilities": ["storage", "identity", "ecs"]}


def test_ecs_converges_as_designed(run_playbook, aws_client, tmp_path, as_deployer):
    """One converge (and a second run that changes nothing), then each property group read back."""
    as_deployer(**DEPLOYER)
    args = ("--tags", "storage,identity,ecs", "-e", "lgtm_output_dir=%s" % tmp_path)
    first = run_playbook(SITE, *args, inventory=INVENTORY)
    assert first.rc == 0, first.failed_messages() or first.stdout[-3000:]
    second = run_playbook(SITE, *args, inventory=INVENTORY)
    assert second.rc == 0, second.failed_messages()
    assert second.total("changed") == 0, "a second run changes nothing, but: %s" % second.changed_tasks()
    check = run_playbook(SITE, *args, "--check", inventory=INVENTORY)
    assert check.rc == 0 and check.total("changed") == 0, "--check on the converged account: %s" % check.changed_tasks()
    check_network(aws_client)
    check_cluster_logs_and_efs(aws_client)
    check_task_definitions_services_and_configuration(tmp_path, aws_client)
    check_alb_dns_and_cloud_map(aws_client)
    # ECS teardown as the deployer whose policy adds the teardown statements (deployer_teardown=true).
    as_deployer(teardown=True, **DEPLOYER)
    check_teardown_keeps_the_data_unless_asked(run_playbook, args, aws_client)


def check_teardown_keeps_the_data_unless_asked(run_playbook, args, aws_client):
    absent = run_playbook(SITE, *args, "-e", "ecs_monitoring_state=absent", inventory=INVENTORY)
    assert absent.rc == 0, absent.failed_messages()
    ecs, elb, efs = aws_client("ecs"), aws_client("elbv2"), aws_client("efs")
    assert [c["status"] for c in ecs.describe_clusters(clusters=[BASE + "-monitoring"])["clusters"]] in ([], ["INACTIVE"])
    assert elb.describe_load_balancers()["LoadBalancers"] == [] and elb.describe_target_groups()["TargetGroups"] == []
    assert aws_client("servicediscovery").list_namespaces()["Namespaces"] == []
    assert aws_client("ssm").describe_parameters()["Parameters"] == []
    kept = [f["Name"] for f in efs.describe_file_systems()["FileSystems"]]
    assert kept == [BASE + "-prometheus"], "Prometheus's data stays unless ecs_monitoring_delete_data"
    assert len(aws_client("logs").describe_log_groups(logGroupNamePrefix="/ecs/" + BASE)["logGroups"]) == 4
    remaining = {g["GroupName"] for g in aws_client("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(BASE + "-ecs-")}
    assert remaining == {BASE + "-ecs-efs", BASE + "-ecs-prometheus"}
    again = run_playbook(SITE, *args, "-e", "ecs_monitoring_state=absent", inventory=INVENTORY)
    assert again.rc == 0 and again.total("changed") == 0, again.changed_tasks()

    purge = run_playbook(SITE, *args, "-e", "ecs_monitoring_state=absent", "-e", "ecs_monitoring_delete_data=true", inventory=INVENTORY)
    assert purge.rc == 0, purge.failed_messages()
    assert efs.describe_file_systems()["FileSystems"] == []
    assert aws_client("logs").describe_log_groups(logGroupNamePrefix="/ecs/" + BASE)["logGroups"] == []


def _groups(ec2):
    groups = ec2.describe_security_groups()["SecurityGroups"]
    return {g["GroupName"]: g for g in groups}


def _ingress(group):
    """(port, source) pairs: a CIDR or the name-less id of a group."""
    pairs = set()
    for rule in group["IpPermissions"]:
        for cidr in rule.get("IpRanges", []):
            pairs.add((rule.get("FromPort"), cidr["CidrIp"]))
        for pair in rule.get("UserIdGroupPairs", []):
            pairs.add((rule.get("FromPort"), pair["GroupId"]))
    return pairs


def check_network(aws_client):
    groups = _groups(aws_client("ec2"))
    sg = {name[len(BASE) + len("-ecs-"):]: g for name, g in groups.items() if name.startswith(BASE + "-ecs-")}
    assert set(sg) == {"alb", "grafana", "prometheus", "alertmanager", "cloudwatch-exporter", "efs"}
    gid = {name: g["GroupId"] for name, g in sg.items()}
    assert _ingress(sg["alb"]) == {(443, OFFICE), (80, OFFICE)}
    assert _ingress(sg["grafana"]) == {(3000, gid["alb"])}
    assert _ingress(sg["prometheus"]) == {(9090, gid["grafana"])}
    assert _ingress(sg["alertmanager"]) == {(9093, gid["prometheus"]), (9093, gid["grafana"])}
    assert _ingress(sg["cloudwatch-exporter"]) == {(9106, gid["prometheus"])}
    assert _ingress(sg["efs"]) == {(2049, gid["prometheus"])}
    for group in sg.values():
        assert (None, "0.0.0.0/0") not in _ingress(group) and all(pair[1] != "0.0.0.0/0" for pair in _ingress(group))


def check_cluster_logs_and_efs(aws_client):
    cluster = aws_client("ecs").describe_clusters(clusters=[BASE + "-monitoring"], include=["SETTINGS", "TAGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert {"key": "Project", "value": "lgtm"} in cluster["tags"]
    groups = {g["logGroupName"]: g for g in aws_client("logs").describe_log_groups(logGroupNamePrefix="/ecs/" + BASE)["logGroups"]}
    assert set(groups) == {"/ecs/%s/%s" % (BASE, t) for t in ("prometheus", "grafana", "cloudwatch-exporter", "alertmanager")}
    assert {g["retentionInDays"] for g in groups.values()} == {30}

    efs = aws_client("efs")
    [fs] = [f for f in efs.describe_file_systems()["FileSystems"] if f.get("Name") == BASE + "-prometheus"]
    assert fs["Encrypted"] is True
    [point] = efs.describe_access_points(FileSystemId=fs["FileSystemId"])["AccessPoints"]
    assert point["PosixUser"] == {"Uid": 65534, "Gid": 65534}
    assert point["RootDirectory"]["Path"] == "/prometheus"
    assert point["RootDirectory"]["CreationInfo"] == {"OwnerUid": 65534, "OwnerGid": 65534, "Permissions": "0755"}
    policy = json.loads(efs.describe_file_system_policy(FileSystemId=fs["FileSystemId"])["Policy"])
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"][0]
    assert allow["Principal"]["AWS"].endswith(":role/%s-ecs-prometheus" % BASE)
    assert allow["Condition"]["StringEquals"]["elasticfilesystem:AccessPointArn"] == point["AccessPointArn"]
    efs_group = _groups(aws_client("ec2"))[BASE + "-ecs-efs"]["GroupId"]
    targets = efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]
    assert len(targets) == 2
    for target in targets:
        assert efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])["SecurityGroups"] == [efs_group]


def check_task_definitions_services_and_configuration(converged, aws_client):
    ecs, ssm = aws_client("ecs"), aws_client("ssm")
    services = ecs.describe_services(cluster=BASE + "-monitoring",
                                     services=["%s-%s" % (BASE, t) for t in ("prometheus", "grafana", "cloudwatch-exporter", "alertmanager")])["services"]
    assert len(services) == 4
    registries = {s["serviceName"]: s["serviceRegistries"] for s in services}
    assert all(len(r) == 1 for r in registries.values()), "every service registers in Cloud Map"
    by_name = {s["serviceName"]: s for s in services}
    assert by_name[BASE + "-grafana"]["loadBalancers"][0]["containerPort"] == 3000
    assert all(s["launchType"] == "FARGATE" for s in services)
    for service in services:
        assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"

    prometheus = ecs.describe_task_definition(taskDefinition=by_name[BASE + "-prometheus"]["taskDefinition"])["taskDefinition"]
    assert (prometheus["cpu"], prometheus["memory"]) == ("1024", "2048")
    assert prometheus["requiresCompatibilities"] == ["FARGATE"] and prometheus["networkMode"] == "awsvpc"
    [volume] = prometheus["volumes"]
    efs_config = volume["efsVolumeConfiguration"]
    assert efs_config["transitEncryption"] == "ENABLED" and efs_config["authorizationConfig"]["iam"] == "ENABLED"
    assert efs_config["authorizationConfig"]["accessPointId"].startswith("fsap-")
    [container] = prometheus["containerDefinitions"]
    assert container["command"] == ["--storage.tsdb.retention.time=15d"]
    assert "--web.enable-lifecycle" in container["entryPoint"][2]
    assert container["healthCheck"]["command"][1].endswith("http://localhost:9090/-/healthy || exit 1")
    assert container["logConfiguration"]["options"]["awslogs-group"] == "/ecs/%s/prometheus" % BASE

    # Every file the container writes at start is an SSM parameter equal to the rendered file.
    environment = {e["name"]: e["value"] for e in container["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    placed = dict(pair.split("=", 1) for pair in environment["LGTM_FILES"].split())
    assert placed["LGTM_FILE_0"] == "/etc/prometheus/prometheus.yml"
    name = secrets["LGTM_FILE_0"].split(":parameter", 1)[1]
    value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    assert value == (converged / "ecs" / "prometheus.yml").read_text()

    grafana = ecs.describe_task_definition(taskDefinition=by_name[BASE + "-grafana"]["taskDefinition"])["taskDefinition"]
    grafana_secrets = {s["name"]: s["valueFrom"] for s in grafana["containerDefinitions"][0]["secrets"]}
    assert ":secretsmanager:" in grafana_secrets["GF_SECURITY_ADMIN_PASSWORD"]
    grafana_environment = {e["name"]: e["value"] for e in grafana["containerDefinitions"][0]["environment"]}
    assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana_environment, "the admin password is never in the task definition"

    # The execution role may read the configuration parameters and the secrets it injects.
    iam = aws_client("iam")
    role = BASE + "-ecs-task-execution"
    documents = [iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"] for p in iam.list_role_policies(RoleName=role)["PolicyNames"]]
    resources = [r for d in documents for s in d["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert any(r.endswith(":parameter/lgtm/%s/ecs-monitoring/*" % BASE) for r in resources)
    assert grafana_secrets["GF_SECURITY_ADMIN_PASSWORD"] in resources


def check_alb_dns_and_cloud_map(aws_client):
    elb = aws_client("elbv2")
    [alb] = elb.describe_load_balancers(Names=[BASE + "-grafana"])["LoadBalancers"]
    assert alb["Scheme"] == "internet-facing"
    listeners = {l["Port"]: l for l in elb.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS" and listeners[443]["Certificates"][0]["CertificateArn"].startswith("arn:aws:acm:")
    assert listeners[443]["DefaultActions"][0]["Type"] == "fixed-response"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    rules = [r for r in elb.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert rules[0]["Conditions"][0]["Values"] == ["grafana.lgtm.example"]
    [group] = elb.describe_target_groups(Names=[BASE + "-grafana"])["TargetGroups"]
    assert (group["TargetType"], group["HealthCheckPath"], group["Port"]) == ("ip", "/api/health", 3000)

    route53 = aws_client("route53")
    [zone] = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"] == "lgtm.example."]
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    [record] = [r for r in records if r["Name"] == "grafana.lgtm.example." and r["Type"] == "A"]
    assert record["AliasTarget"]["DNSName"].rstrip(".").lower() == alb["DNSName"].lower()

    cloudmap = aws_client("servicediscovery")
    [namespace] = [n for n in cloudmap.list_namespaces()["Namespaces"] if n["Name"] == "monitoring.local"]
    names = {s["Name"] for s in cloudmap.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace["Id"]]}])["Services"]}
    assert names == {"prometheus", "grafana", "alertmanager", "cloudwatch-exporter"}


def test_bad_input_and_unreadable_secret_fail_together_before_any_change(run_playbook, aws_client, tmp_path, as_deployer):
    """A missing certificate and a Slack secret the execution role may not read (left out of identity_secret_arns):
    both reported in one run, in the user's variable names, before any ECS resource or file is made (as the deployer:
    the same message, not an AccessDenied)."""
    as_deployer(**DEPLOYER)
    spec = {"environment": "local", "name_prefix": "aws-rag", "region": "{{ lgtm_region }}", "services": [{"name": "api-1"}], "allowed_cidrs": [OFFICE],
            "network": {"vpc_id": "{{ lgtm_local_fixtures.vpc_id }}", "private_subnets": "{{ lgtm_local_fixtures.subnets }}",
                        "public_subnets": "{{ lgtm_local_fixtures.subnets }}"},
            "dns": {"zone": "lgtm.example"}, "grafana": {"admin_secret_arn": "{{ lgtm_local_fixtures.secrets['grafana-admin-password'] }}"},
            "slack": {"webhook_secret_arn": "{{ lgtm_local_fixtures.secrets['slack-webhook-url'] }}"}}
    result = run_playbook(SITE, "--tags", "storage,identity,ecs", "-e", "lgtm_output_dir=%s" % tmp_path,
                          extra_vars={"ecs_monitoring_spec": spec,
                                      "identity_secret_arns": ["{{ lgtm_local_fixtures.secrets['grafana-admin-password'] }}"]},
                          inventory=INVENTORY)
    assert result.rc != 0
    [message] = result.failed_messages()
    assert "ecs_monitoring_spec.certificate_arn: is required" in message, message
    assert "ecs_monitoring_spec.slack.webhook_secret_arn: arn:aws:secretsmanager:" in message, message
    assert "is not readable by the task execution role; add it to identity_secret_arns" in message, message
    assert "grafana.admin_secret_arn" not in message
    assert not (tmp_path / "ecs").exists(), "nothing is written before the input is known good"
    assert aws_client("ecs").list_clusters()["clusterArns"] == []
    assert not [g for g in aws_client("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith(BASE + "-ecs-")]
