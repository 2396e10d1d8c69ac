# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS side of Prometheus and Grafana on ECS Fargate, as data the role hands to AWS modules.

Pure functions over a spec already checked by ``ecs_monitoring.validate``: names, security groups and their
rules, SSM parameters that carry the rendered files, task definitions, services, the ALB and IAM documents.

Configuration reaches the containers without a custom image: every rendered file is an SSM parameter, injected
by ECS as an environment variable (``secrets``/``valueFrom``), and a short ``sh`` entry point writes each one to
its path before it starts the image's own program. A checksum of a task's files is part of its definition, so a
changed file is a new task definition revision and a rolling restart of that service only.
"""

import hashlib
import re

from ansible_collections.lgtm.aws.plugins.plugin_utils.ecs_monitoring import GRAFANA_DASHBOARDS_DIR, TASKS
from ansible_collections.lgtm.aws.plugins.plugin_utils.spec_checks import Problems

PORTS = {"prometheus": 9090, "grafana": 3000, "alertmanager": 9093, "cloudwatch_exporter": 9106}
SSM_STANDARD_BYTES = 4096
SSM_ADVANCED_BYTES = 8192
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# What each container runs once its files are written (the images' own programs and paths).
PROGRAMS = {
    "prometheus": ["/bin/prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                   "--web.console.libraries=/usr/share/prometheus/console_libraries",
                   "--web.console.templates=/usr/share/prometheus/consoles", "--web.enable-lifecycle"],
    "alertmanager": ["/bin/alertmanager", "--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
    "grafana": ["/run.sh"],
    "cloudwatch_exporter": ["java", "-jar", "/cloudwatch_exporter.jar", "9106", "/tmp/cloudwatch-exporter/config.yml"],
}
HEALTH_CHECKS = {
    "prometheus": "wget -q --spider http://localhost:9090/-/healthy || exit 1",
    "alertmanager": "wget -q --spider http://localhost:9093/-/healthy || exit 1",
    "grafana": "wget -q --spider http://localhost:3000/api/health || exit 1",
}
PROMETHEUS_DATA_VOLUME = "prometheus-data"
EFS_ACCESS_POINT = {"name": "prometheus", "path": "/prometheus", "uid": 65534, "gid": 65534, "permissions": "0755"}


def dashed(task):
    return task.replace("_", "-")


def names(spec):
    """Every AWS name this design uses, from name_prefix and environment."""
    base = "%s-%s" % (spec["name_prefix"], spec["environment"])
    return {
        "base": base,
        "cluster": "%s-monitoring" % base,
        "families": {task: "%s-%s" % (base, dashed(task)) for task in TASKS},
        "services": {task: "%s-%s" % (base, dashed(task)) for task in TASKS},
        "cloudmap_services": {task: dashed(task) for task in TASKS},
        "log_groups": {task: "/ecs/%s/%s" % (base, dashed(task)) for task in TASKS},
        "security_groups": {role: "%s-ecs-%s" % (base, role) for role in ("alb", "grafana", "prometheus", "alertmanager", "cloudwatch-exporter", "efs")},
        "efs": "%s-prometheus" % base,
        "alb": ("%s-grafana" % base)[:32],
        "target_group": ("%s-grafana" % base)[:32],
        # SSM reserves names that begin with "aws" or "ssm", which a prefix such as aws-prod would: start with lgtm.
        "parameter_path": "/lgtm/%s/ecs-monitoring" % base,
        "grafana_fqdn": "%s.%s" % (spec["dns"]["record"], str(spec["dns"]["zone"]).rstrip(".")) if spec["dns"]["zone"] else "",
    }


def require_aws_inputs(spec):
    """What creating the AWS resources needs on top of the configuration; every missing field at once."""
    problems = Problems()
    network = spec["network"]
    if not re.match(r"^vpc-[0-9a-f]+$", str(network["vpc_id"])):
        problems.add("network.vpc_id", "must be the VPC's id such as vpc-0abc123 (got %r)" % (network["vpc_id"],))
    for key, least in (("private_subnets", 1), ("public_subnets", 2)):
        subnets = network[key]
        if not isinstance(subnets, list) or len(subnets) < least or not all(re.match(r"^subnet-[0-9a-f]+$", str(s)) for s in subnets):
            problems.add("network." + key, "needs at least %d subnet id(s) such as subnet-0abc123 (got %r)%s"
                         % (least, subnets, "; an ALB spans two zones" if least == 2 else ""))
    if not spec["certificate_arn"]:
        problems.add("certificate_arn", "is required: the ALB serves Grafana over HTTPS only (an ACM certificate ARN)")
    if not spec["allowed_cidrs"]:
        problems.add("allowed_cidrs", "is required: Grafana is reachable only from these networks (e.g. the office's 203.0.113.0/24)")
    if not spec["dns"]["zone"]:
        problems.add("dns.zone", "is required: the Route53 hosted zone of Grafana's name (e.g. example.com)")
    if not spec["grafana"]["admin_secret_arn"]:
        problems.add("grafana.admin_secret_arn", "is required: Grafana's admin password comes from Secrets Manager or SSM, never from the task definition")
    if not spec["slack"]["webhook_secret_arn"]:
        problems.add("slack.webhook_secret_arn", "is required: Alertmanager reads the Slack webhook URL from Secrets Manager or SSM")
    problems.raise_if_any()


# The identity role's ECS outputs as the ecs_monitoring role receives them (identity_outputs.ecs by default).
IDENTITY = "ecs_monitoring_identity"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")


def injected_secrets(spec):
    """(spec field, ARN) of every secret a task definition injects (the task execution role reads them at start)."""
    grafana = spec["grafana"]
    result = [("grafana.admin_secret_arn", grafana["admin_secret_arn"])]
    if grafana["database_url_secret_arn"]:
        result.append(("grafana.database_url_secret_arn", grafana["database_url_secret_arn"]))
    if grafana["oauth"]["provider"] != "none":
        result.append(("grafana.oauth.client_secret_arn", grafana["oauth"]["client_secret_arn"]))
    result.append(("slack.webhook_secret_arn", spec["slack"]["webhook_secret_arn"]))
    return [(field, arn) for field, arn in result if arn]


def _resource_of(arn):
    """The IAM resource ECS reads for a ``valueFrom``: a Secrets Manager reference may carry
    ``:json-key:version-stage:version-id`` after the secret's ARN."""
    parts = str(arn).split(":")
    if len(parts) > 7 and parts[2] == "secretsmanager":
        return ":".join(parts[:7])
    return str(arn)


def _matches(pattern, value):
    """IAM resource matching: ``*`` any run of characters, ``?`` one character, everything else literal."""
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    return re.match("^%s$" % expression, value) is not None


def check_references(spec, identity, parameter_names=()):
    """Every reference this role makes to the identity role's ECS outputs, checked before any AWS call.

    ``identity`` is ``identity_outputs.ecs``: the task execution role and the task roles must be there, every
    secret a task injects must be one the execution role may read (``secret_arns``), and every SSM parameter the
    plan writes must be under the path the execution role may read (``config_parameter_path``). Returns the
    problems, each naming the user's variable (spec fields relative to the spec)."""
    problems = []
    if not isinstance(identity, dict):
        return [(IDENTITY, "needs the identity role's ECS outputs (identity_outputs.ecs: execution_role_arn, task_roles, secret_arns, "
                           "config_parameter_path); run lgtm.aws.identity with identity_ecs_enabled=true first, or give them")]
    execution = identity.get("execution_role_arn")
    if not isinstance(execution, str) or not _ROLE_ARN.match(execution):
        problems.append((IDENTITY + ".execution_role_arn",
                         "must be the task execution role's ARN (got %r); run lgtm.aws.identity with identity_ecs_enabled=true first"
                         % (execution,)))
    task_roles = identity.get("task_roles")
    task_roles = task_roles if isinstance(task_roles, dict) else {}
    for task in TASKS:
        arn = task_roles.get(task)
        if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
            problems.append((IDENTITY + ".task_roles." + task,
                             "must be the %s task role's ARN (got %r); run lgtm.aws.identity with identity_ecs_enabled=true first"
                             % (task, arn)))

    readable = identity.get("secret_arns")
    if readable is None:
        problems.append((IDENTITY + ".secret_arns", "is missing: these outputs come from an older lgtm.aws.identity; run lgtm.aws.identity "
                                                    "again so they list the secrets the task execution role may read"))
    readable = [str(arn) for arn in readable or []]
    for field, arn in injected_secrets(spec):
        if not any(_matches(allowed, _resource_of(arn)) for allowed in readable):
            problems.append((field, "%s is not readable by the task execution role; add it to identity_secret_arns "
                                    "(the identity role's variable) and run lgtm.aws.identity" % arn))

    path = identity.get("config_parameter_path")
    if not path:
        problems.append((IDENTITY + ".config_parameter_path", "is empty or missing, so the task execution role may read none of the "
                                                              "configuration parameters; set identity_ecs_config_parameter_path (or leave "
                                                              "its default) and run lgtm.aws.identity"))
    else:
        prefix = str(path).rstrip("/") + "/"
        outside = [str(name) for name in parameter_names if not str(name).startswith(prefix)]
        if outside:
            problems.append(("name_prefix", "the configuration parameters (%s, %d in all) would be outside %s*, the only path the task "
                                            "execution role may read (identity_ecs_config_parameter_path): give name_prefix and environment "
                                            "the identity role's values (lgtm_name_prefix, lgtm_environment)" % (outside[0], len(outside), prefix)))
    return problems


def security_groups(spec):
    """Security groups in creation order (each refers only to groups before it): ALB from the allowed CIDRs,
    Grafana from the ALB, Prometheus from Grafana, Alertmanager from Prometheus and Grafana, the exporter from
    Prometheus, EFS from Prometheus."""
    sg = names(spec)["security_groups"]

    def from_groups(port, *groups):
        return [{"proto": "tcp", "ports": [port], "group_name": sg[group], "rule_desc": "from %s" % group} for group in groups]

    office = [{"proto": "tcp", "ports": [port], "cidr_ip": cidr, "rule_desc": "allowed network"}
              for cidr in spec["allowed_cidrs"] for port in (443, 80)]
    return [
        {"name": sg["alb"], "description": "Grafana ALB: HTTPS (and the HTTP redirect) from the allowed networks", "rules": office},
        {"name": sg["grafana"], "description": "Grafana tasks: only from the ALB", "rules": from_groups(3000, "alb")},
        {"name": sg["prometheus"], "description": "Prometheus tasks: internal, from Grafana", "rules": from_groups(9090, "grafana")},
        {"name": sg["alertmanager"], "description": "Alertmanager tasks: internal, from Prometheus and Grafana",
         "rules": from_groups(9093, "prometheus", "grafana")},
        {"name": sg["cloudwatch-exporter"], "description": "CloudWatch exporter tasks: internal, from Prometheus",
         "rules": from_groups(9106, "prometheus")},
        {"name": sg["efs"], "description": "Prometheus EFS: NFS from the Prometheus tasks only", "rules": from_groups(2049, "prometheus")},
    ]


def config_files(files):
    """Task -> [(relative path, path in the container)] for the rendered files each task needs."""
    placed = {task: [] for task in TASKS}
    for path in sorted(files):
        if path == "prometheus.yml" or path.startswith(("rules/", "scrape_configs/")):
            placed["prometheus"].append((path, "/etc/prometheus/" + path))
        elif path == "alertmanager.yml":
            placed["alertmanager"].append((path, "/etc/alertmanager/alertmanager.yml"))
        elif path.startswith("grafana/provisioning/"):
            placed["grafana"].append((path, "/tmp/" + path))
        elif path.startswith("dashboards/"):
            placed["grafana"].append((path, "%s/%s" % (GRAFANA_DASHBOARDS_DIR, path.split("/", 1)[1])))
        elif path == "cloudwatch-exporter.yml":
            placed["cloudwatch_exporter"].append((path, "/tmp/cloudwatch-exporter/config.yml"))
    return placed


def parameters(spec, files):
    """SSM parameters that carry the files, as lgtm.aws.ssm_parameters takes them: name, value, tier (Advanced
    above 4 KB), description. Fails above 8 KB, naming every file too large."""
    path = names(spec)["parameter_path"]
    result = []
    problems = Problems()
    for task, placed in sorted(config_files(files).items()):
        for relative, _destination in placed:
            size = len(files[relative].encode("utf-8"))
            if size > SSM_ADVANCED_BYTES:
                problems.add("files." + relative, "is %d bytes; an SSM parameter holds at most %d (split the dashboard or trim the rules)"
                             % (size, SSM_ADVANCED_BYTES))
            result.append({"name": "%s/%s/%s" % (path, dashed(task), relative), "value": files[relative],
                           "tier": "Advanced" if size > SSM_STANDARD_BYTES else "Standard",
                           "description": "lgtm.aws ecs_monitoring: %s" % task})
    problems.raise_if_any()
    return result


def checksums(files):
    """Task -> sha256 of the files it runs with: part of the task definition, so a change rolls that service."""
    result = {}
    for task, placed in config_files(files).items():
        digest = hashlib.sha256()
        for relative, destination in placed:
            digest.update(("%s\0%s\0" % (destination, files[relative])).encode("utf-8"))
        result[task] = digest.hexdigest()
    return result


def _parameter_arn(refs, name):
    return "arn:aws:ssm:%s:%s:parameter%s" % (refs["region"], refs["account_id"], name)


def _entry_point(task, file_vars):
    """sh script: write every injected file (LGTM_FILES maps variable=path), then exec the image's program."""
    write = ('for pair in $LGTM_FILES; do var="${pair%%=*}"; path="${pair#*=}"; mkdir -p "${path%/*}"; '
             'printenv "$var" > "$path"; done; ') if file_vars else ""
    return write + "exec " + " ".join(PROGRAMS[task]) + ' "$@"'


def _oauth_environment(spec):
    oauth = spec["grafana"]["oauth"]
    if oauth["provider"] == "none":
        return {}
    if oauth["provider"] == "cognito":
        base = "https://%s/oauth2" % oauth["cognito_domain"]
        urls = {"AUTH_URL": base + "/authorize", "TOKEN_URL": base + "/token", "API_URL": base + "/userInfo"}
        claim = oauth["groups_claim"] or "cognito:groups"
    else:
        urls = {"AUTH_URL": oauth["auth_url"], "TOKEN_URL": oauth["token_url"], "API_URL": oauth["api_url"]}
        claim = oauth["groups_claim"] or "groups"
    environment = {"ENABLED": "true", "NAME": oauth["name"] or ("Cognito" if oauth["provider"] == "cognito" else "SSO"),
                   "CLIENT_ID": oauth["client_id"], "SCOPES": oauth["scopes"], "USE_PKCE": "true",
                   "ROLE_ATTRIBUTE_PATH": role_attribute_path(claim, oauth["role_mapping"]), "ROLE_ATTRIBUTE_STRICT": "false"}
    environment.update(urls)
    return {"GF_AUTH_GENERIC_OAUTH_" + key: value for key, value in environment.items()}


def role_attribute_path(claim, mapping):
    """JMESPath that maps identity-provider groups to Grafana roles (Admin, then Editor, else Viewer)."""
    terms = []
    for role in ("Admin", "Editor"):
        for group in mapping.get(role, []):
            terms.append("contains(\"%s\"[*], '%s') && '%s'" % (claim, group, role))
    return " || ".join(terms + ["'Viewer'"])


def _grafana_settings(spec, refs):
    fqdn = names(spec)["grafana_fqdn"]
    environment = {"GF_PATHS_PROVISIONING": "/tmp/grafana/provisioning", "GF_SECURITY_ADMIN_USER": spec["grafana"]["admin_user"],
                   "GF_SERVER_ROOT_URL": "https://%s/" % fqdn if fqdn else "%(protocol)s://%(domain)s/",
                   "GF_ANALYTICS_REPORTING_ENABLED": "false", "GF_USERS_ALLOW_SIGN_UP": "false"}
    environment.update(_oauth_environment(spec))
    secrets = {"GF_SECURITY_ADMIN_PASSWORD": spec["grafana"]["admin_secret_arn"]}
    if spec["grafana"]["oauth"]["provider"] != "none":
        secrets["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"] = spec["grafana"]["oauth"]["client_secret_arn"]
    if spec["grafana"]["database_url_secret_arn"]:
        secrets["GF_DATABASE_URL"] = spec["grafana"]["database_url_secret_arn"]
    return environment, secrets


def _image(spec, task):
    return spec["images"].get(task) or ("prom/prometheus:v%s" % spec["prometheus_version"] if task == "prometheus" else "")


def container(spec, task, refs, files):
    """The one container of a task: image, entry point that writes its files, secrets, awslogs, health check."""
    placed = config_files(files)[task]
    all_names = names(spec)
    environment = {"AWS_REGION": spec["region"], "LGTM_CONFIG_SHA256": checksums(files)[task]}
    secrets = {}
    file_vars = []
    for index, (relative, destination) in enumerate(placed):
        variable = "LGTM_FILE_%d" % index
        secrets[variable] = _parameter_arn(refs, "%s/%s/%s" % (all_names["parameter_path"], dashed(task), relative))
        file_vars.append("%s=%s" % (variable, destination))
    if task == "alertmanager":
        secrets["LGTM_FILE_SLACK"] = spec["slack"]["webhook_secret_arn"]
        file_vars.append("LGTM_FILE_SLACK=%s" % spec["slack"]["webhook_url_file"])
    if task == "grafana":
        grafana_environment, grafana_secrets = _grafana_settings(spec, refs)
        environment.update(grafana_environment)
        secrets.update(grafana_secrets)
    if file_vars:
        environment["LGTM_FILES"] = " ".join(file_vars)
    definition = {
        "name": dashed(task),
        "image": _image(spec, task),
        "essential": True,
        "entryPoint": ["sh", "-c", _entry_point(task, file_vars), dashed(task)],
        "command": ["--storage.tsdb.retention.time=%s" % spec["retention"]] if task == "prometheus" else [],
        "portMappings": [{"containerPort": PORTS[task], "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": all_names["log_groups"][task], "awslogs-region": spec["region"], "awslogs-stream-prefix": dashed(task)}},
    }
    if task in HEALTH_CHECKS:
        definition["healthCheck"] = {"command": ["CMD-SHELL", HEALTH_CHECKS[task]], "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 60}
    if task == "prometheus":
        definition["mountPoints"] = [{"sourceVolume": PROMETHEUS_DATA_VOLUME, "containerPath": "/prometheus", "readOnly": False}]
    return definition


def task_definitions(spec, refs, files):
    """Arguments for community.aws.ecs_taskdefinition, per task."""
    all_names = names(spec)
    result = {}
    for task in TASKS:
        size = spec["tasks"][task]
        definition = {
            "family": all_names["families"][task], "launch_type": "FARGATE", "network_mode": "awsvpc",
            "cpu": str(size["cpu"]), "memory": str(size["memory"]),
            "execution_role_arn": refs["execution_role_arn"], "task_role_arn": refs["task_roles"][task],
            "containers": [container(spec, task, refs, files)], "volumes": [],
        }
        if task == "prometheus":
            definition["volumes"] = [{"name": PROMETHEUS_DATA_VOLUME, "efsVolumeConfiguration": {
                # rootDirectory "/" (the access point sets the real root) is what ECS reports back: stated, so a rerun matches.
                "fileSystemId": refs["efs"]["file_system_id"], "rootDirectory": "/", "transitEncryption": "ENABLED", "transitEncryptionPort": 2049,
                "authorizationConfig": {"accessPointId": refs["efs"]["access_point_id"], "iam": "ENABLED"}}}]
        result[task] = definition
    return result


def services(spec):
    """Per task: service name, security group, and deployment settings. Prometheus is one writer on EFS:
    at most one task at any time (minimum 0 %, maximum 100 %), so a deployment stops the old task first."""
    all_names = names(spec)
    result = {}
    for task in TASKS:
        one_writer = task == "prometheus"
        result[task] = {
            "name": all_names["services"][task], "family": all_names["families"][task],
            "security_group": all_names["security_groups"][dashed(task)],
            "cloudmap_service": all_names["cloudmap_services"][task],
            "deployment_configuration": {"minimum_healthy_percent": 0 if one_writer else 100, "maximum_percent": 100 if one_writer else 200},
            "load_balanced": task == "grafana",
            "container_name": dashed(task), "container_port": PORTS[task],
        }
    return result


def service_arguments(spec, refs):
    """The services as lgtm.aws.ecs_services takes them, from refs: ``task_definitions`` (family -> {revision}: what
    lgtm.aws.ecs_task_definitions returns),
    ``security_group_ids`` (name -> id), ``cloudmap_services`` (Cloud Map name -> {arn}) and ``target_group_arn``."""
    result = []
    for task, service in services(spec).items():
        arguments = {
            "name": service["name"], "task_definition": refs["task_definitions"][service["family"]]["revision"], "desired_count": 1, "launch_type": "FARGATE",
            "platform_version": "LATEST", "subnets": list(spec["network"]["private_subnets"]),
            "security_groups": [refs["security_group_ids"][service["security_group"]]], "assign_public_ip": False,
            "minimum_healthy_percent": service["deployment_configuration"]["minimum_healthy_percent"],
            "maximum_percent": service["deployment_configuration"]["maximum_percent"],
            "service_registries": [{"registryArn": refs["cloudmap_services"][service["cloudmap_service"]]["arn"]}],
            "load_balancers": [], "propagate_tags": "SERVICE",
        }
        if service["load_balanced"] and refs.get("target_group_arn"):
            arguments["load_balancers"] = [{"targetGroupArn": refs["target_group_arn"], "containerName": service["container_name"],
                                            "containerPort": service["container_port"]}]
        result.append(arguments)
    return result


def file_system_policy(file_system_arn, prometheus_role_arn, access_point_arn):
    """EFS file system policy: only the Prometheus task role, only through the access point, only over TLS."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PrometheusThroughAccessPoint", "Effect": "Allow", "Principal": {"AWS": prometheus_role_arn},
         "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"], "Resource": file_system_arn,
         "Condition": {"StringEquals": {"elasticfilesystem:AccessPointArn": access_point_arn}}},
        {"Sid": "DenyWithoutTLS", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*", "Resource": file_system_arn,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}


NOT_FOUND = {"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "not found"}


def listeners(spec, target_group_arn):
    """HTTPS on 443 (forward Grafana's host name to its target group, anything else 404) and HTTP 80 → HTTPS."""
    fqdn = names(spec)["grafana_fqdn"]
    return [
        {"Protocol": "HTTPS", "Port": 443, "SslPolicy": SSL_POLICY, "Certificates": [{"CertificateArn": spec["certificate_arn"]}],
         "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": NOT_FOUND}],
         "Rules": [{"Priority": 10, "Conditions": [{"Field": "host-header", "Values": [fqdn]}],
                    "Actions": [{"Type": "forward", "TargetGroupArn": target_group_arn}]}]},
        {"Protocol": "HTTP", "Port": 80,
         "DefaultActions": [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]},
    ]


def plan(spec, files, refs=None, identity=None):
    """Everything the role needs: names, security groups, parameters, services; with refs (account, region, role
    ARNs, EFS ids) also the task definitions and IAM documents. With ``identity`` (the identity role's ECS outputs)
    every reference to them is checked too. Raises one SpecError with every problem found."""
    problems = Problems()
    planned_parameters = []
    with problems.section():
        require_aws_inputs(spec)
    with problems.section():
        planned_parameters = parameters(spec, files)
    if identity is not None:
        problems.problems.extend(check_references(spec, identity, [p["name"] for p in planned_parameters]))
    problems.raise_if_any()
    # "spec": the checked spec, every default filled in, so the role reads settings from here and repeats no default.
    result = {"spec": spec, "names": names(spec), "security_groups": security_groups(spec), "parameters": planned_parameters,
              "services": services(spec), "checksums": checksums(files), "access_point": dict(EFS_ACCESS_POINT),
              "cloudmap_services": [{"name": name} for name in names(spec)["cloudmap_services"].values()],
              # One EFS mount target per private subnet (the role adds the EFS security group's id).
              "mount_targets": [{"subnet_id": subnet} for subnet in spec["network"]["private_subnets"]]}
    if refs:
        efs = refs["efs"]
        result["task_definitions"] = task_definitions(spec, refs, files)
        if refs.get("task_definitions"):
            result["ecs_services"] = service_arguments(spec, refs)
        if efs.get("access_point_arn"):
            result["file_system_policy"] = file_system_policy(efs["file_system_arn"], refs["task_roles"]["prometheus"], efs["access_point_arn"])
        if refs.get("target_group_arn"):
            result["listeners"] = listeners(spec, refs["target_group_arn"])
            result["listeners_without_rules"] = [dict((k, v) for k, v in listener.items() if k != "Rules") for listener in result["listeners"]]
    return result
