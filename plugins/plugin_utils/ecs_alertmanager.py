# -*- coding: utf-8 -*-
# Copyright: lgtm.aws contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""alertmanager.yml from a checked spec: Slack routes by severity, the webhook URL read from a file."""

# The receiver of every alert when slack.routes names no channel: Alertmanager keeps the alerts, sends nothing.
SILENT_RECEIVER = "none"


def alertmanager_config(spec):
    """One Slack receiver per severity in ``slack.routes`` (``slack-<severity>``), critical inhibiting warning for
    the same alert and service; with no routes, a receiver that sends nothing."""
    slack = spec["slack"]
    routes = sorted(slack["routes"].items())
    receivers = [{"name": "slack-%s" % severity, "slack_configs": [{
        "api_url_file": slack["webhook_url_file"], "channel": channel, "send_resolved": True,
        "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
        "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}"}]} for severity, channel in routes]
    if not receivers:
        receivers = [{"name": SILENT_RECEIVER}]
    default = "slack-critical" if "critical" in slack["routes"] else receivers[0]["name"]
    return {
        "route": {"receiver": default, "group_by": ["alertname", "service"], "group_wait": spec["alertmanager_group_wait"],
                  "group_interval": "5m", "repeat_interval": "4h",
                  "routes": [{"matchers": ['severity="%s"' % severity], "receiver": "slack-%s" % severity} for severity, _channel in routes]},
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'], "equal": ["alertname", "service"]}],
        "receivers": receivers,
    }
