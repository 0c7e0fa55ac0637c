"""Extensions to moto's ELBv2 model for Cloudgate's tests.

moto (checked with 5.2.1) drops or mishandles parts of the ELBv2 API that
the AWS provider depends on. This module patches moto in the process that
runs ``moto_server`` (loaded by ``sitecustomize`` when
CLOUDGATE_MOTO_EXTENSIONS=1, or run as ``python3 -m cloudgate_moto``), so
that moto stores what AWS stores and refuses what AWS refuses:

* listener rule Transforms (host-header-rewrite, url-rewrite) are stored by
  CreateRule and ModifyRule (and cleared by ResetTransforms) and returned by
  CreateRule, ModifyRule and DescribeRules; moto drops them.
* RegexValues in rule conditions (top level, HostHeaderConfig,
  PathPatternConfig, HttpHeaderConfig) are accepted, validated and returned;
  moto answers HTTP 500 (KeyError 'Values').
* the quota "rules per Application Load Balancer (excluding default rules)",
  100, refused with TooManyRules; moto accepts any number.
* the quota "condition values per rule", 5, counted across all conditions of
  a rule (regex values included), refused with ValidationError "A rule can
  only have '5' condition values"; moto accepts any number.
* idempotent creates: CreateLoadBalancer, CreateTargetGroup and
  CreateListener with the name (or load balancer and port) of an existing
  one and the same settings return the existing one, and with other
  settings are refused with DuplicateLoadBalancerName,
  DuplicateTargetGroupName or DuplicateListener, as AWS does ("This
  operation is idempotent, which means that it completes at most one
  time"). moto makes a second load balancer of the same name and a second
  listener on the same port, and refuses a repeated target group. A client
  retrying a create whose answer was lost depends on this.
* NLB protocols: a UDP or TCP_UDP target group health-checked over UDP,
  and a TCP health check with a path, are refused (ValidationError); an
  NLB listener forwarding to a target group of a protocol it cannot carry
  (a TCP_UDP listener to a TCP group, a TCP one to a UDP group) is refused
  with IncompatibleProtocols on CreateListener and ModifyListener; and
  ModifyListener on an NLB takes UDP, TLS and TCP_UDP (with the TLS
  certificate) as AWS does. moto accepts all of the former and refuses
  the latter.
* Elastic IPs on NLBs: CreateLoadBalancer's SubnetMappings AllocationIds
  are kept and returned in DescribeLoadBalancers' AvailabilityZones
  (LoadBalancerAddresses), and the addresses are associated while the NLB
  lives (DescribeAddresses shows an AssociationId); an allocation id on an
  ALB or an internal NLB, an unknown one (AllocationIdNotFound) or one
  already associated is refused. moto drops the allocation ids.
* ACM's DeleteCertificate refuses a certificate an ELBv2 listener serves,
  with ResourceInUseException; moto deletes it.

Sources: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
(quotas), the botocore ELBv2 model (TooManyRules is CreateRule's error for
the rules quota; the API has no dedicated error for condition values, AWS
answers ValidationError), https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-transforms.html
(one transform of each type per rule).

The extensions touch nothing but the ELBv2 calls named here; everything else is
moto as installed. Nothing in Cloudgate's production code knows about them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

# The quotas AWS applies by default (load-balancer-limits.html). Both are
# adjustable in AWS; the environment variables stand for a raised quota.
RULES_PER_ALB = int(os.environ.get("CLOUDGATE_MOTO_RULES_PER_ALB", "100"))
CONDITION_VALUES_PER_RULE = int(
    os.environ.get("CLOUDGATE_MOTO_CONDITION_VALUES_PER_RULE", "5")
)
REGEX_MAX_LEN = 128
TRANSFORM_TYPES = {
    "host-header-rewrite": "HostHeaderRewriteConfig",
    "url-rewrite": "UrlRewriteConfig",
}

EXTENSIONS = [
    "elbv2-rule-transforms",
    "elbv2-condition-regex-values",
    "elbv2-quota-rules-per-alb",
    "elbv2-quota-condition-values-per-rule",
    "elbv2-rule-tags-on-create",
    "acm-reimport-keeps-tags",
    "acm-delete-in-use-refused",
    "elbv2-idempotent-creates",
    "elbv2-nlb-protocols",
    "elbv2-attribute-defaults",
    "elbv2-deletion-protection",
    "ec2-security-group-in-use",
    "elbv2-nlb-elastic-ips",
]

_installed = False


def install() -> None:
    """Patches moto's ELBv2 models and responses. Idempotent."""
    global _installed
    if _installed:
        return
    from moto.elbv2 import exceptions, models, responses

    backend = models.ELBv2Backend
    response = responses.ELBV2Response
    for cls, names in (
        (
            backend,
            (
                "create_rule",
                "modify_rule",
                "create_load_balancer",
                "create_target_group",
                "create_listener",
                "describe_listeners",
                "describe_rules",
                "_validate_host_header_condition",
                "_validate_path_pattern_condition",
                "_validate_http_header_condition",
            ),
        ),
        (response, ("create_rule", "modify_rule", "describe_account_limits")),
    ):
        for name in names:
            if not callable(getattr(cls, name, None)):
                raise RuntimeError(
                    f"cloudgate_moto: moto {_moto_version()} has no {cls.__name__}.{name}; "
                    "these extensions were written for moto 5.2.1"
                )

    class TooManyRulesError(exceptions.ELBClientError):
        code = "TooManyRules"

    ValidationError = exceptions.ValidationError

    # --- RegexValues -----------------------------------------------------

    def validate_regex_values(field: str, values: Any) -> None:
        if not isinstance(values, list) or not values:
            raise ValidationError(f"A '{field}' regex value must be specified")
        for v in values:
            if not isinstance(v, str) or not v:
                raise ValidationError(f"A '{field}' regex value must be specified")
            if len(v) > REGEX_MAX_LEN:
                raise ValidationError(
                    f"The '{field}' regex value is too long; the limit is '{REGEX_MAX_LEN}'"
                )

    def regex_aware(orig, field: str, config_key: str):
        # moto's validators read config["Values"] unconditionally (the
        # KeyError behind its HTTP 500); with RegexValues only, validate
        # those instead, and with both, validate both.
        def validate(self, condition: dict[str, Any]) -> None:
            config = condition.get(config_key)
            top_regex = condition.get("RegexValues")
            if top_regex is not None and config is None and "Values" not in condition:
                validate_regex_values(field, top_regex)
                return
            if isinstance(config, dict) and "RegexValues" in config:
                validate_regex_values(field, config["RegexValues"])
                if "Values" not in config:
                    if field == "http-header":
                        name = config.get("HttpHeaderName") or ""
                        if len(name) > 40:
                            raise ValidationError(
                                "The 'HttpHeaderName' value is too long; the limit is '40'"
                            )
                    return
            orig(self, condition)

        validate.__name__ = orig.__name__
        return validate

    backend._validate_host_header_condition = regex_aware(
        backend._validate_host_header_condition, "host-header", "HostHeaderConfig"
    )
    backend._validate_path_pattern_condition = regex_aware(
        backend._validate_path_pattern_condition, "path-pattern", "PathPatternConfig"
    )
    backend._validate_http_header_condition = regex_aware(
        backend._validate_http_header_condition, "http-header", "HttpHeaderConfig"
    )

    # --- quotas ----------------------------------------------------------

    def count_condition_values(conditions: list[dict[str, Any]]) -> int:
        n = 0
        for c in conditions or []:
            n += len(c.get("Values") or [])
            n += len(c.get("RegexValues") or [])
            for key, value in c.items():
                if key.endswith("Config") and isinstance(value, dict):
                    n += len(value.get("Values") or [])
                    n += len(value.get("RegexValues") or [])
        return n

    def check_condition_values(conditions: list[dict[str, Any]]) -> None:
        if count_condition_values(conditions) > CONDITION_VALUES_PER_RULE:
            raise ValidationError(
                f"A rule can only have '{CONDITION_VALUES_PER_RULE}' condition values"
            )

    def check_rules_quota(self, listener_arn: str) -> None:
        listeners = self.describe_listeners(None, [listener_arn])
        if not listeners:
            return  # moto raises ListenerNotFound
        lb_arn = listeners[0].load_balancer_arn
        lb = self.load_balancers.get(lb_arn)
        if lb is None:
            return
        rules = sum(
            1
            for listener in lb.listeners.values()
            for rule in listener.rules.values()
            if not rule.is_default
        )
        if rules >= RULES_PER_ALB:
            raise TooManyRulesError(
                f"The maximum number of rules on load balancer '{lb_arn}' "
                f"('{RULES_PER_ALB}') has been reached"
            )

    # --- Transforms ------------------------------------------------------

    def checked_transforms(transforms: Any) -> list[dict[str, Any]]:
        if not transforms:
            return []
        if not isinstance(transforms, list):
            raise ValidationError("Transforms must be a list")
        seen = set()
        for t in transforms:
            kind = t.get("Type")
            if kind not in TRANSFORM_TYPES:
                raise ValidationError(
                    f"Transform type '{kind}' must be one of '[{', '.join(TRANSFORM_TYPES)}]'"
                )
            if kind in seen:
                raise ValidationError(
                    f"A rule can have only one transform of type '{kind}'"
                )
            seen.add(kind)
            rewrites = (t.get(TRANSFORM_TYPES[kind]) or {}).get("Rewrites") or []
            if not rewrites:
                raise ValidationError(
                    f"A '{TRANSFORM_TYPES[kind]}' with at least one rewrite must be specified "
                    f"for a transform of type '{kind}'"
                )
            for r in rewrites:
                if not r.get("Regex"):
                    raise ValidationError("A rewrite 'Regex' must be specified")
                if "Replace" not in r:
                    raise ValidationError("A rewrite 'Replace' must be specified")
        return transforms

    orig_create_rule = backend.create_rule
    orig_modify_rule = backend.modify_rule
    orig_describe_rules = backend.describe_rules

    def create_rule(
        self,
        listener_arn: str,
        conditions: list[dict[str, Any]],
        priority: int,
        actions: list[dict[str, Any]],
        tags: list[dict[str, str]] | None = None,
        transforms: list[dict[str, Any]] | None = None,
    ):
        transforms = checked_transforms(transforms)
        check_condition_values(conditions)
        check_rules_quota(self, listener_arn)
        rule = orig_create_rule(self, listener_arn, conditions, priority, actions, tags)
        rule.transforms = transforms or None
        # moto 5.2.1 files the new rule's tags under an ARN of its own
        # making (a random suffix) while the rule answers with another
        # (id-based), so DescribeTags of the returned ARN is empty. AWS tags
        # the rule it returns.
        if tags:
            self.tagging_service.tag_resource(rule.arn, tags)
        return rule

    def modify_rule(
        self,
        rule_arn: str,
        conditions: list[dict[str, Any]],
        actions: list[dict[str, Any]],
        transforms: list[dict[str, Any]] | None = None,
        reset_transforms: bool = False,
    ):
        if transforms and reset_transforms:
            raise ValidationError(
                "You cannot specify both 'Transforms' and 'ResetTransforms'"
            )
        transforms = checked_transforms(transforms)
        if conditions:
            check_condition_values(conditions)
        if conditions or actions:
            rule = orig_modify_rule(self, rule_arn, conditions, actions)
        elif transforms or reset_transforms:
            rules = orig_describe_rules(self, listener_arn=None, rule_arns=[rule_arn])
            if not rules:
                raise exceptions.RuleNotFoundError()
            rule = rules[0]
        else:
            rule = orig_modify_rule(self, rule_arn, conditions, actions)
        if getattr(rule, "is_default", False) and transforms:
            raise ValidationError("You cannot add transforms to a default rule")
        if transforms:
            rule.transforms = transforms
        elif reset_transforms:
            rule.transforms = None
        return rule

    backend.create_rule = create_rule
    backend.modify_rule = modify_rule

    # --- idempotent creates ----------------------------------------------
    # "Same settings" is what names the resource's kind and place: what
    # the create cannot change later. AWS documents no finer rule.

    orig_create_load_balancer = backend.create_load_balancer
    orig_create_target_group = backend.create_target_group
    orig_create_listener = backend.create_listener

    def create_load_balancer(self, name: str, *args: Any, **kwargs: Any):
        for lb in self.load_balancers.values():
            if lb.name != name:
                continue
            scheme = kwargs.get("scheme") or "internet-facing"
            kind = kwargs.get("loadbalancer_type") or "application"
            if lb.scheme == scheme and lb.type == kind:
                return lb
            raise exceptions.DuplicateLoadBalancerName()
        return orig_create_load_balancer(self, name, *args, **kwargs)

    def create_target_group(self, name: str, **kwargs: Any):
        for tg in self.target_groups.values():
            if tg.name != name:
                continue
            protocol = kwargs.get("protocol")
            same = (
                (tg.protocol or None) == (protocol or None)
                and str(tg.port) == str(kwargs.get("port"))
                and tg.vpc_id == kwargs.get("vpc_id")
                and (tg.target_type or "instance") == (kwargs.get("target_type") or "instance")
            )
            if same:
                return tg
            raise exceptions.DuplicateTargetGroupName()
        return orig_create_target_group(self, name, **kwargs)

    def create_listener(self, load_balancer_arn: str, protocol: str, port: Any, *args: Any, **kwargs: Any):
        balancer = self.load_balancers.get(load_balancer_arn)
        if balancer is not None:
            for listener in balancer.listeners.values():
                if str(listener.port) != str(port):
                    continue
                if listener.protocol == (protocol or "").upper():
                    return listener
                raise exceptions.DuplicateListenerError()
        return orig_create_listener(self, load_balancer_arn, protocol, port, *args, **kwargs)

    backend.create_load_balancer = create_load_balancer
    backend.create_target_group = create_target_group
    backend.create_listener = create_listener

    # --- responses -------------------------------------------------------

    ActionResult = responses.ActionResult

    def create_rule_response(self):
        params = self._get_params()
        rule = self.elbv2_backend.create_rule(
            listener_arn=params["ListenerArn"],
            conditions=params["Conditions"],
            priority=params["Priority"],
            actions=params["Actions"],
            tags=params.get("Tags"),
            transforms=params.get("Transforms"),
        )
        return ActionResult({"Rules": [rule]})

    def modify_rule_response(self):
        params = self._get_params()
        reset = params.get("ResetTransforms")
        if isinstance(reset, str):
            reset = reset.lower() == "true"
        rule = self.elbv2_backend.modify_rule(
            rule_arn=params.get("RuleArn"),
            conditions=params.get("Conditions", []),
            actions=params.get("Actions", []),
            transforms=params.get("Transforms"),
            reset_transforms=bool(reset),
        )
        return ActionResult({"Rules": [rule]})

    orig_limits = response.describe_account_limits

    def describe_account_limits_response(self):
        result = orig_limits(self)
        limits = result.result["Limits"] if hasattr(result, "result") else None
        if isinstance(limits, list):
            for limit in limits:
                if limit.get("Name") == "rules-per-application-load-balancer":
                    limit["Max"] = RULES_PER_ALB
            names = {limit.get("Name") for limit in limits}
            if "condition-values-per-alb-rule" not in names:
                limits.append(
                    {"Name": "condition-values-per-alb-rule", "Max": CONDITION_VALUES_PER_RULE}
                )
        return result

    response.create_rule = create_rule_response
    response.modify_rule = modify_rule_response
    response.describe_account_limits = describe_account_limits_response

    _install_acm()
    _install_nlb(models, exceptions)
    _install_acm_in_use()
    _install_attributes()
    _install_security_groups()
    _install_elastic_ips()
    _installed = True


def _install_acm() -> None:
    """ACM keeps a certificate's tags over a re-import to its ARN, and
    refuses tags in a re-import (ImportCertificate, "Tags": "You cannot apply
    tags when reimporting a certificate"); moto 5.2.1 replaces the
    certificate with an untagged one."""
    from moto.acm import models as acm_models
    from moto.acm.exceptions import AWSValidationException

    acm_backend = acm_models.AWSCertificateManagerBackend
    if not callable(getattr(acm_backend, "import_certificate", None)):
        raise RuntimeError(
            f"cloudgate_moto: moto {_moto_version()} has no AWSCertificateManagerBackend.import_certificate"
        )
    orig_import = acm_backend.import_certificate

    def import_certificate(self, certificate, private_key, chain, arn, tags):
        old = self._certificates.get(arn) if arn is not None else None
        if old is None:
            return orig_import(self, certificate, private_key, chain, arn, tags)
        if tags:
            raise AWSValidationException("You cannot apply tags when reimporting a certificate.")
        kept = [{"Key": k, "Value": v} for k, v in old.tags.items()]
        out = orig_import(self, certificate, private_key, chain, arn, tags)
        if kept:
            self._certificates[arn].tags.add(kept)
        return out

    acm_backend.import_certificate = import_certificate


# What an NLB listener of each protocol may forward to (the listener and
# target group protocols of
# https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html).
NLB_FORWARDS = {
    "TCP": {"TCP", "TCP_UDP"},
    "TLS": {"TCP", "TLS"},
    "UDP": {"UDP", "TCP_UDP"},
    "TCP_UDP": {"TCP_UDP"},
}


def _install_nlb(models: Any, exceptions: Any) -> None:
    """NLB rules that moto 5.2.1 does not apply: a UDP or TCP_UDP target
    group cannot be health-checked over UDP (AWS probes it over TCP, HTTP
    or HTTPS), a TCP health check has no path; and an NLB listener forwards
    only to target groups of a protocol it can carry (a TCP_UDP listener
    only to TCP_UDP groups, IncompatibleProtocols otherwise), on
    CreateListener and ModifyListener alike. moto accepts all of these."""
    backend = models.ELBv2Backend
    for name in ("create_target_group", "modify_target_group", "create_listener", "modify_listener"):
        if not callable(getattr(backend, name, None)):
            raise RuntimeError(f"cloudgate_moto: moto {_moto_version()} has no ELBv2Backend.{name}")

    class IncompatibleProtocolsError(exceptions.ELBClientError):
        code = "IncompatibleProtocols"

    ValidationError = exceptions.ValidationError

    def check_health(protocol: Any, hc_protocol: Any, hc_path: Any) -> None:
        protocol, hc_protocol = (protocol or "").upper(), (hc_protocol or "").upper()
        if protocol in ("UDP", "TCP_UDP") and hc_protocol == "UDP":
            raise ValidationError(
                f"Health check protocol 'UDP' is not supported for target groups with the {protocol} protocol"
            )
        if hc_protocol == "TCP" and hc_path:
            raise ValidationError("Health check path is not supported for the TCP health check protocol")

    orig_create_tg = backend.create_target_group
    orig_modify_tg = backend.modify_target_group

    def create_target_group(self, name: str, **kwargs: Any):
        check_health(kwargs.get("protocol"), kwargs.get("healthcheck_protocol"), kwargs.get("healthcheck_path"))
        return orig_create_tg(self, name, **kwargs)

    def modify_target_group(self, arn: str, health_check_proto: Any = None, health_check_port: Any = None,
                            health_check_path: Any = None, *args: Any, **kwargs: Any):
        tg = self.target_groups.get(arn)
        if tg is not None:
            check_health(tg.protocol, health_check_proto or tg.health_check_protocol, health_check_path)
        return orig_modify_tg(self, arn, health_check_proto, health_check_port, health_check_path, *args, **kwargs)

    def forwarded(actions: Any) -> list[str]:
        arns = []
        for a in actions or []:
            if str(a.get("Type", "")).lower() != "forward":
                continue
            if a.get("TargetGroupArn"):
                arns.append(a["TargetGroupArn"])
            for g in ((a.get("ForwardConfig") or {}).get("TargetGroups") or []):
                if g.get("TargetGroupArn"):
                    arns.append(g["TargetGroupArn"])
        return arns

    def check_forwards(self, balancer: Any, protocol: Any, actions: Any) -> None:
        if balancer is None or getattr(balancer, "type", "") != "network":
            return
        protocol = (protocol or "").upper()
        allowed = NLB_FORWARDS.get(protocol)
        if allowed is None:
            return  # moto refuses the protocol itself
        for arn in dict.fromkeys(forwarded(actions)):
            tg = self.target_groups.get(arn)
            if tg is not None and (tg.protocol or "").upper() not in allowed:
                raise IncompatibleProtocolsError(
                    f"Listener protocol '{protocol}' is not compatible with target group protocol '{tg.protocol}'"
                )

    orig_create_listener = backend.create_listener
    orig_modify_listener = backend.modify_listener

    def create_listener(self, load_balancer_arn: str, protocol: str, port: Any, *args: Any, **kwargs: Any):
        actions = kwargs.get("actions")
        if actions is None and len(args) >= 3:
            actions = args[2]  # ssl_policy, certificate, actions
        check_forwards(self, self.load_balancers.get(load_balancer_arn), protocol, actions)
        return orig_create_listener(self, load_balancer_arn, protocol, port, *args, **kwargs)

    def modify_listener(self, arn: str, port: Any = None, protocol: Any = None, ssl_policy: Any = None,
                        certificates: Any = None, actions: Any = None):
        balancer = next((b for b in self.load_balancers.values() if arn in b.listeners), None)
        if balancer is None or getattr(balancer, "type", "") != "network":
            return orig_modify_listener(self, arn, port, protocol, ssl_policy, certificates, actions)
        listener = balancer.listeners[arn]
        protocol = (protocol or listener.protocol or "").upper()
        if actions:
            check_forwards(self, balancer, protocol, actions)
        # moto takes only HTTP, HTTPS and TCP here; an NLB listener may
        # become UDP, TLS or TCP_UDP too (with a certificate for TLS).
        out = orig_modify_listener(self, arn, port, None, ssl_policy, None, actions)
        if protocol == "TLS" and certificates:
            out.certificate = certificates[0].get("CertificateArn")
            out.certificates = [c.get("CertificateArn") for c in certificates]
        elif protocol != "TLS":
            out.certificate, out.certificates = None, []
        out.protocol = protocol
        return out

    backend.create_target_group = create_target_group
    backend.modify_target_group = modify_target_group
    backend.create_listener = create_listener
    backend.modify_listener = modify_listener
def _install_acm_in_use() -> None:
    """ACM refuses to delete a certificate that a load balancer's listener
    serves (DeleteCertificate: ResourceInUseException, "Certificate ... is
    in use"); moto 5.2.1 deletes it, and the listener then serves a
    certificate that no longer exists. In use means: the default or an SNI
    certificate of an ELBv2 listener in the same account and region, as
    moto holds them now (moto's own InUseBy list is never cleared)."""
    from moto.acm import models as acm_models
    from moto.acm.exceptions import AWSError
    from moto.elbv2 import models as elbv2_models

    acm_backend = acm_models.AWSCertificateManagerBackend
    if not callable(getattr(acm_backend, "delete_certificate", None)):
        raise RuntimeError(
            f"cloudgate_moto: moto {_moto_version()} has no AWSCertificateManagerBackend.delete_certificate"
        )

    class ResourceInUseError(AWSError):
        TYPE = "ResourceInUseException"

    orig_delete = acm_backend.delete_certificate

    def delete_certificate(self, arn: str) -> None:
        try:
            elb = elbv2_models.elbv2_backends[self.account_id][self.region_name]
        except KeyError:
            elb = None
        for balancer in (elb.load_balancers.values() if elb else []):
            for listener in balancer.listeners.values():
                if arn == listener.certificate or arn in (listener.certificates or []):
                    raise ResourceInUseError(f"Certificate {arn} is in use by {balancer.arn}")
        return orig_delete(self, arn)

    acm_backend.delete_certificate = delete_certificate
# The attributes DescribeLoadBalancerAttributes returns for a new ALB
# (application-load-balancers.html#load-balancer-attributes); moto 5.2.1
# stores five of them.
ALB_ATTRIBUTE_DEFAULTS = {
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}


def _install_attributes() -> None:
    """A new ALB has every attribute at AWS's default, so that
    DescribeLoadBalancerAttributes returns them all, as AWS does (moto 5.2.1
    leaves out idle_timeout.timeout_seconds and access_logs.s3.enabled,
    among others, and says cross-zone is off on an ALB, which it never is);
    DeleteLoadBalancer refuses a load balancer with deletion protection
    (OperationNotPermitted), which moto deletes."""
    from moto.elbv2 import exceptions, models

    backend = models.ELBv2Backend
    for name in ("create_load_balancer", "delete_load_balancer"):
        if not callable(getattr(backend, name, None)):
            raise RuntimeError(
                f"cloudgate_moto: moto {_moto_version()} has no ELBv2Backend.{name}"
            )

    class OperationNotPermittedError(exceptions.ELBClientError):
        code = "OperationNotPermitted"

    orig_create = backend.create_load_balancer
    orig_delete = backend.delete_load_balancer

    def create_load_balancer(self, *args: Any, **kwargs: Any):
        lb = orig_create(self, *args, **kwargs)
        # Once: an idempotent create returns an existing load balancer,
        # whose attributes are what they were set to.
        if getattr(lb, "type", "application") == "application" and not getattr(lb, "_cloudgate_defaults", False):
            lb.attrs.update(ALB_ATTRIBUTE_DEFAULTS)
            lb._cloudgate_defaults = True
        return lb

    def delete_load_balancer(self, arn: str) -> None:
        lb = self.load_balancers.get(arn)
        if lb is not None and str(lb.attrs.get("deletion_protection.enabled", "false")).lower() == "true":
            raise OperationNotPermittedError(
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
            )
        return orig_delete(self, arn)

    backend.create_load_balancer = create_load_balancer
    backend.delete_load_balancer = delete_load_balancer


def _install_security_groups() -> None:
    """EC2 refuses to delete a security group that a load balancer uses or
    that a rule of another group references (DependencyViolation); moto
    5.2.1 deletes it."""
    from moto.ec2 import exceptions as ec2_exceptions
    from moto.ec2.models import security_groups
    from moto.elbv2.models import elbv2_backends

    backend = security_groups.SecurityGroupBackend
    if not callable(getattr(backend, "delete_security_group", None)):
        raise RuntimeError(
            f"cloudgate_moto: moto {_moto_version()} has no SecurityGroupBackend.delete_security_group"
        )
    orig_delete = backend.delete_security_group

    def delete_security_group(self, name: str | None = None, group_id: str | None = None) -> None:
        if group_id:
            elb = elbv2_backends[self.account_id][self.region_name]
            for lb in elb.load_balancers.values():
                if group_id in (lb.security_groups or []):
                    raise ec2_exceptions.DependencyViolationError(
                        f"resource {group_id} has a dependent object"
                    )
            for groups in self.groups.values():
                for group in groups.values():
                    if group.id == group_id:
                        continue
                    for rule in group.ingress_rules + group.egress_rules:
                        if (rule.source_group or {}).get("GroupId") == group_id:
                            raise ec2_exceptions.DependencyViolationError(
                                f"resource {group_id} has a dependent object"
                            )
        return orig_delete(self, name=name, group_id=group_id)

    backend.delete_security_group = delete_security_group


def _install_elastic_ips() -> None:
    """SubnetMappings with AllocationId on CreateLoadBalancer (see the
    module doc). AWS: "[Network Load Balancers] You can specify one
    Elastic IP address per subnet if you need static IP addresses for your
    internet-facing load balancer" (the ELBv2 API's SubnetMapping); an
    Elastic IP is associated with one network interface at a time. The
    error codes are the API's (AllocationIdNotFound is
    CreateLoadBalancer's); the messages are the extension's own words."""
    from moto.ec2.models import ec2_backends
    from moto.elbv2 import exceptions, models

    backend = models.ELBv2Backend
    for name in ("create_load_balancer", "delete_load_balancer"):
        if not callable(getattr(backend, name, None)):
            raise RuntimeError(f"cloudgate_moto: moto {_moto_version()} has no ELBv2Backend.{name}")
    if not isinstance(getattr(models.FakeLoadBalancer, "availability_zones", None), property):
        raise RuntimeError(f"cloudgate_moto: moto {_moto_version()} has no FakeLoadBalancer.availability_zones")

    class AllocationIdNotFoundError(exceptions.ELBClientError):
        code = "AllocationIdNotFound"

    class InvalidConfigurationRequestError(exceptions.ELBClientError):
        code = "InvalidConfigurationRequest"

    class LoadBalancerAddress:
        def __init__(self, allocation_id: str, ip_address: str) -> None:
            self.allocation_id = allocation_id
            self.ip_address = ip_address

    orig_create = backend.create_load_balancer
    orig_delete = backend.delete_load_balancer
    orig_zones = models.FakeLoadBalancer.availability_zones.fget

    def eip_of(self, allocation_id: str):
        for a in ec2_backends[self.account_id][self.region_name].addresses:
            if a.allocation_id == allocation_id:
                return a
        return None

    def create_load_balancer(self, name: str, *args: Any, **kwargs: Any):
        mappings = kwargs.get("subnet_mappings") or []
        wanted = {m["SubnetId"]: m["AllocationId"] for m in mappings if m.get("AllocationId")}
        if wanted:
            kind = kwargs.get("loadbalancer_type") or "application"
            if kind != "network":
                raise exceptions.ValidationError("Elastic IP addresses can be given to Network Load Balancers only")
            if (kwargs.get("scheme") or "internet-facing") != "internet-facing":
                raise exceptions.ValidationError("Elastic IP addresses can be given to internet-facing load balancers only")
            for allocation in wanted.values():
                eip = eip_of(self, allocation)
                if eip is None:
                    raise AllocationIdNotFoundError(f"The allocation ID '{allocation}' does not exist")
                holder = getattr(eip, "_cloudgate_lb", None)
                if eip.association_id and holder is None:
                    raise InvalidConfigurationRequestError(f"The Elastic IP address '{eip.public_ip}' is already associated")
        balancer = orig_create(self, name, *args, **kwargs)
        for allocation in wanted.values():
            eip = eip_of(self, allocation)
            holder = getattr(eip, "_cloudgate_lb", None)
            if holder not in (None, balancer.arn):
                raise InvalidConfigurationRequestError(f"The Elastic IP address '{eip.public_ip}' is already associated")
        if not hasattr(balancer, "_cloudgate_eips"):
            balancer._cloudgate_eips = {}
            for subnet, allocation in wanted.items():
                eip = eip_of(self, allocation)
                eip.association_id = "eipassoc-" + allocation.removeprefix("eipalloc-")
                eip._cloudgate_lb = balancer.arn
                balancer._cloudgate_eips[subnet] = eip
        return balancer

    def delete_load_balancer(self, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        out = orig_delete(self, arn)
        if balancer is not None and arn not in self.load_balancers:
            for eip in getattr(balancer, "_cloudgate_eips", {}).values():
                if getattr(eip, "_cloudgate_lb", None) == arn:
                    eip.association_id = None
                    eip._cloudgate_lb = None
        return out

    def availability_zones(self):
        zones = orig_zones(self)
        eips = getattr(self, "_cloudgate_eips", {})
        for z in zones:
            eip = eips.get(z.subnet_id)
            if eip is not None:
                z.load_balancer_addresses = [LoadBalancerAddress(eip.allocation_id, eip.public_ip)]
        return zones

    backend.create_load_balancer = create_load_balancer
    backend.delete_load_balancer = delete_load_balancer
    models.FakeLoadBalancer.availability_zones = property(availability_zones)


def _moto_version() -> str:
    try:
        import moto

        return getattr(moto, "__version__", "?")
    except Exception:  # pragma: no cover - only for the message
        return "?"


def record_server(state_file: str) -> None:
    """Writes the bound port (and this interpreter) to state_file once
    moto's werkzeug server has bound its socket, so that a caller can ask
    for port 0 and learn the port without a race."""
    import werkzeug.serving as serving

    orig = serving.make_server

    def make_server(*args: Any, **kwargs: Any):
        srv = orig(*args, **kwargs)
        state = {
            "pid": os.getpid(),
            "port": srv.server_port,
            "python": sys.executable,
            "moto": _moto_version(),
            "extensions": EXTENSIONS if _installed else [],
        }
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, state_file)
        return srv

    serving.make_server = make_server


def watch_parent(pid: int) -> None:
    """Exits this process when pid is gone, so that a test binary that dies
    without running its cleanups leaves no server behind."""

    def loop() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass

    threading.Thread(target=loop, name="cloudgate-watch-parent", daemon=True).start()


def exit_fast_on_signal() -> None:
    """moto_server exits on SIGINT/SIGTERM through sys.exit, and the
    interpreter then spends seconds tearing down moto's backends. A test
    double has nothing to save: exit at once."""
    import moto.server

    def handler(signum: int, frame: Any) -> None:
        sys.stderr.flush()
        os._exit(0)

    moto.server.signal_handler = handler


def setup_from_env() -> None:
    """What sitecustomize and __main__ run: patches, the state file, the
    watchdog, a quick exit, each as the environment asks."""
    install()
    exit_fast_on_signal()
    state_file = os.environ.get("CLOUDGATE_MOTO_STATE_FILE")
    if state_file:
        record_server(state_file)
    watch = os.environ.get("CLOUDGATE_MOTO_WATCH_PID")
    if watch:
        watch_parent(int(watch))


def main(argv: list[str] | None = None) -> None:
    """python3 -m cloudgate_moto [moto_server arguments]"""
    setup_from_env()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    # Run the importable module, not this __main__ copy, so that a
    # sitecustomize that already imported cloudgate_moto and this entry
    # point share one set of patches.
    import cloudgate_moto

    cloudgate_moto.main()
