"""The infrastructure's promises, checked on the evaluated template: Flex Consumption with Python 3.11,
least privilege, private by default, no shared keys, retention, and the azd wiring."""

from __future__ import annotations

import re
from typing import Any

import pytest

from . import bicep
from .template import (
    CONTOSO,
    INFRA,
    ROOT,
    app_settings,
    child_names,
    deploy,
    function_app,
    one,
    ref_key,
    resources,
)

ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ROLES = {
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
    "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68": "Cognitive Services Contributor",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
}


CERTIFICATE_SIGNER = "cvdsr certificate signer"  # the custom role of app/rbac.bicep


def role_of(assignment: bicep.ResourceInstance) -> str:
    definition = bicep.render(assignment.properties["roleDefinitionId"])
    if (
        definition
        == "resourceId(Microsoft.Authorization/roleDefinitions, guid(resourceGroup().id, cvdsr-certificate-signer))"
    ):
        return CERTIFICATE_SIGNER
    match = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", definition)
    assert match, definition
    return ROLES[match.group()]


def app_roles(deployment: bicep.Deployment) -> dict[str, bicep.ResourceInstance]:
    principal = ref_key(one(deployment, "Microsoft.ManagedIdentity/userAssignedIdentities"), "properties.principalId")
    roles: dict[str, bicep.ResourceInstance] = {}
    for assignment in resources(deployment, ROLE_ASSIGNMENT):
        if bicep.render(assignment.properties["principalId"]) == principal:
            assert assignment.condition is True, f"{assignment.symbol} is deployed only conditionally"
            roles[role_of(assignment)] = assignment
    return roles


def scope_of(assignment: bicep.ResourceInstance) -> bicep.ResourceInstance:
    scope = assignment.scope_value
    assert isinstance(scope, bicep.ResourceRef), f"{assignment.symbol} has no resource scope"
    return scope.instance


def test_flex_consumption_python_311_with_identity_deployment_storage() -> None:
    deployment = deploy()
    plan = one(deployment, "Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.properties["reserved"] is True
    site = function_app(deployment)
    assert site.body["kind"] == "functionapp,linux"
    config = site.properties["functionAppConfig"]
    assert isinstance(config, dict)
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    storage = config["deployment"]
    assert isinstance(storage, dict)
    assert isinstance(storage["storage"], dict)
    package = storage["storage"]
    account = one(deployment, "Microsoft.Storage/storageAccounts")
    blob_endpoint = bicep.Opaque(ref_key(account, "properties.primaryEndpoints.blob"))
    assert package["type"] == "blobContainer"
    assert package["value"] == bicep.Template((blob_endpoint, "app-package"))
    assert "app-package" in child_names(
        deployment, "Microsoft.Storage/storageAccounts/blobServices/containers", account
    )
    authentication = package["authentication"]
    assert isinstance(authentication, dict)
    assert authentication["type"] == "UserAssignedIdentity"
    assert bicep.render(authentication["userAssignedIdentityResourceId"]) == bicep.render(
        site.properties["keyVaultReferenceIdentity"]
    )
    tags = site.body["tags"]
    assert isinstance(tags, dict)
    assert tags["azd-service-name"] == "api"


def test_web_hardening() -> None:
    site = function_app(deploy())
    assert site.properties["httpsOnly"] is True
    site_config = site.properties["siteConfig"]
    assert isinstance(site_config, dict)
    assert site_config["minTlsVersion"] == "1.2"
    assert site_config["scmMinTlsVersion"] == "1.2"
    assert site_config["ftpsState"] == "Disabled"
    policies = resources(deploy(), "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {bicep.render(p.full_name).rsplit("/", 1)[1]: p.properties["allow"] for p in policies} == {
        "ftp": False,
        "scm": False,
    }


@pytest.mark.parametrize("count", [1, 4, 10])
def test_scale_out_limit_is_a_parameter(count: int) -> None:
    config = function_app(deploy(maximumInstanceCount=count)).properties["functionAppConfig"]
    assert isinstance(config, dict)
    assert config["scaleAndConcurrency"] == {"maximumInstanceCount": count, "instanceMemoryMB": 2048}


def test_storage_allows_no_shared_keys_and_tls12_only() -> None:
    account = one(deploy(), "Microsoft.Storage/storageAccounts").properties
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["supportsHttpsTrafficOnly"] is True


def test_storage_queues_and_containers() -> None:
    deployment = deploy()
    account = one(deployment, "Microsoft.Storage/storageAccounts")
    queues = child_names(deployment, "Microsoft.Storage/storageAccounts/queueServices/queues", account)
    assert queues == {"dsr-requests", "dsr-requests-poison", "dsr-events"}
    containers = child_names(deployment, "Microsoft.Storage/storageAccounts/blobServices/containers", account)
    assert containers == {"dsr-results", "dsr-audit", "app-package", "cvdsr-state", "dsr-register"}
    for container in resources(deployment, "Microsoft.Storage/storageAccounts/blobServices/containers"):
        assert container.properties["publicAccess"] == "None"


@pytest.mark.parametrize(("results_days", "audit_days"), [(30, 2190), (7, 365)])
def test_results_expire_and_audit_evidence_is_immutable(results_days: int, audit_days: int) -> None:
    deployment = deploy(resultsRetentionDays=results_days, auditRetentionDays=audit_days)
    policy = one(deployment, "Microsoft.Storage/storageAccounts/managementPolicies").properties["policy"]
    assert isinstance(policy, dict)
    assert isinstance(policy["rules"], list)
    rules = {rule["name"]: rule["definition"] for rule in policy["rules"] if isinstance(rule, dict)}
    results = rules["delete-results"]
    assert isinstance(results, dict)
    assert results["filters"] == {"blobTypes": ["blockBlob", "appendBlob"], "prefixMatch": ["dsr-results/"]}
    assert results["actions"] == {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": results_days}}}
    immutability = immutability_of(deployment, "dsr-audit")
    assert immutability.properties == {
        "immutabilityPeriodSinceCreationInDays": audit_days,
        "allowProtectedAppendWrites": True,
    }
    audit = rules["delete-expired-audit"]
    assert isinstance(audit, dict)
    assert audit["actions"] == {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": audit_days + 1}}}


def test_service_bus_entities() -> None:
    deployment = deploy()
    namespace = one(deployment, "Microsoft.ServiceBus/namespaces")
    assert namespace.body["sku"] == {"name": "Standard", "tier": "Standard"}
    assert namespace.properties["disableLocalAuth"] is True
    assert namespace.properties["minimumTlsVersion"] == "1.2"
    queue = one(deployment, "Microsoft.ServiceBus/namespaces/queues").properties
    assert queue["deadLetteringOnMessageExpiration"] is True
    assert isinstance(queue["maxDeliveryCount"], int)
    assert queue["maxDeliveryCount"] >= 1
    topic = one(deployment, "Microsoft.ServiceBus/namespaces/topics").properties
    assert topic["requiresDuplicateDetection"] is True


def test_events_subscription_filters_on_what_the_app_sends() -> None:
    """The example subscription replaces the catch-all $Default rule with a SQL filter on the
    application properties the app sets (shared/events/channels.py: type, status, ticket_system)."""
    rule = one(deploy(), "Microsoft.ServiceBus/namespaces/topics/subscriptions/rules")
    assert bicep.render(rule.full_name).endswith("/dsr-events/needs-attention/$Default")
    assert rule.properties["filterType"] == "SqlFilter"
    sql_filter = rule.properties["sqlFilter"]
    assert isinstance(sql_filter, dict)
    expression = bicep.text(sql_filter["sqlExpression"])
    literals = re.findall(r"'([^']*)'", expression)
    identifiers = set(re.findall(r"[A-Za-z_]+", re.sub(r"'[^']*'", "", expression))) - {"OR", "AND", "NOT"}
    assert identifiers <= {"type", "status", "ticket_system"}, identifiers
    assert set(literals) == {"failed", "partially_succeeded"}


def test_key_vault_is_rbac_with_purge_protection() -> None:
    vault = one(deploy(), "Microsoft.KeyVault/vaults").properties
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["enablePurgeProtection"] is True
    assert not [r for r in deploy().all_resources() if r.type == "Microsoft.KeyVault/vaults/secrets"], (
        "secret values never belong in the template"
    )


def test_the_certificate_signing_key_is_ec_p256_sign_only_and_the_app_may_only_sign_with_it() -> None:
    deployment = deploy()
    key = one(deployment, "Microsoft.KeyVault/vaults/keys")
    properties: dict[str, Any] = dict(key.properties)
    assert properties["kty"] == "EC"
    assert properties["curveName"] == "P-256"
    assert properties["keyOps"] == ["sign", "verify"]
    assert properties["attributes"]["exportable"] is False
    assert bicep.render(properties["attributes"]["exp"]) == "dateTimeToEpoch(dateTimeAdd(utcNow(), P2Y))"
    (role,) = resources(deployment, "Microsoft.Authorization/roleDefinitions")
    definition: dict[str, Any] = dict(role.properties)
    assert definition["type"] == "CustomRole"
    (permissions,) = definition["permissions"]
    assert permissions["actions"] == []
    assert permissions["dataActions"] == [
        "Microsoft.KeyVault/vaults/keys/read",
        "Microsoft.KeyVault/vaults/keys/sign/action",
    ]
    assert bicep.render(app_settings(deployment)["CVDSR_SIGNING__KEY_VAULT_KEY_ID"]) == (
        f"ref(Microsoft.KeyVault/vaults/keys:{bicep.render(key.full_name)}).properties.keyUriWithVersion"
    )


def test_telemetry_is_entra_authenticated_classic_application_insights() -> None:
    deployment = deploy()
    component = one(deployment, "Microsoft.Insights/components")
    assert component.properties["DisableLocalAuth"] is True
    settings = app_settings(deployment)
    identity = one(deployment, "Microsoft.ManagedIdentity/userAssignedIdentities")
    client_id = bicep.Opaque(ref_key(identity, "properties.clientId"))
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == bicep.Template(
        ("ClientId=", client_id, ";Authorization=AAD")
    )
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == bicep.Opaque(
        ref_key(component, "properties.ConnectionString")
    )
    assert "APPINSIGHTS_INSTRUMENTATIONKEY" not in settings


def test_app_identity_roles_are_exactly_these_and_narrowly_scoped() -> None:
    deployment = deploy()
    roles = app_roles(deployment)
    assert set(roles) == {
        "Storage Blob Data Contributor",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Azure Service Bus Data Receiver",
        "Azure Service Bus Data Sender",
        "Key Vault Secrets User",
        "Monitoring Metrics Publisher",
        CERTIFICATE_SIGNER,
    }
    scopes = {role: scope_of(assignment) for role, assignment in roles.items()}
    assert scopes[CERTIFICATE_SIGNER].type == "Microsoft.KeyVault/vaults/keys"
    assert bicep.render(scopes[CERTIFICATE_SIGNER].full_name).endswith("/certificate-signing")
    assert scopes["Azure Service Bus Data Receiver"].type == "Microsoft.ServiceBus/namespaces/queues"
    assert bicep.render(scopes["Azure Service Bus Data Receiver"].full_name).endswith("/dsr-requests")
    assert scopes["Azure Service Bus Data Sender"].type == "Microsoft.ServiceBus/namespaces/topics"
    assert bicep.render(scopes["Azure Service Bus Data Sender"].full_name).endswith("/dsr-events")
    assert scopes["Key Vault Secrets User"].type == "Microsoft.KeyVault/vaults"
    assert scopes["Monitoring Metrics Publisher"].type == "Microsoft.Insights/components"
    account = bicep.render(one(deployment, "Microsoft.Storage/storageAccounts").full_name)
    for role in ("Storage Blob Data Contributor", "Storage Queue Data Contributor", "Storage Table Data Contributor"):
        assert bicep.render(scopes[role].full_name) == account


@pytest.mark.parametrize(("grant_delete", "role"), [(False, "Reader"), (True, "Cognitive Services Contributor")])
def test_custom_vision_account_role(grant_delete: bool, role: str) -> None:
    deployment = deploy(customVisionResources=[CONTOSO], grantCustomVisionAccountDelete=grant_delete)
    roles = app_roles(deployment)
    assert role in roles
    account = scope_of(roles[role])
    assert account.type == "Microsoft.CognitiveServices/accounts"
    assert account.full_name == "contoso-prod"
    (module,) = [m for m in deployment.all_modules() if m.symbol == "customVisionRbac"]
    assert bicep.render(module.scope_value) == "resourceGroup(00000000-0000-0000-0000-000000000001, rg-vision)"


def test_operator_roles_only_when_a_principal_is_given() -> None:
    assert len(resources(deploy(), ROLE_ASSIGNMENT)) == 8
    deployment = deploy(principalId="11111111-1111-1111-1111-111111111111")
    operator = [
        role_of(a)
        for a in resources(deployment, ROLE_ASSIGNMENT)
        if a.properties["principalId"] == "11111111-1111-1111-1111-111111111111"
    ]
    assert sorted(operator) == ["Key Vault Secrets Officer", "Storage Blob Data Reader"]


def test_every_role_assignment_is_in_the_rbac_module_and_commented() -> None:
    deployment = deploy(customVisionResources=[CONTOSO], principalId="someone")
    assert {r.path.name for r in resources(deployment, ROLE_ASSIGNMENT)} == {"rbac.bicep"}
    for path in INFRA.rglob("*.bicep"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if ROLE_ASSIGNMENT in line and line.startswith("resource "):
                assert path.name == "rbac.bicep", f"{path}: role assignments belong in app/rbac.bicep"
                assert lines[number - 1].startswith("//"), f"{path.name}:{number + 1}: say what the role is for"


def test_private_by_default() -> None:
    deployment = deploy()
    for type_ in ("Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults"):
        properties = one(deployment, type_).properties
        assert properties["publicNetworkAccess"] == "Disabled", type_
        acls = properties["networkAcls"]
        assert isinstance(acls, dict)
        assert acls["defaultAction"] == "Deny"
        assert acls["ipRules"] == []
    vnet = one(deployment, "Microsoft.Network/virtualNetworks")
    subnets = vnet.properties["subnets"]
    assert isinstance(subnets, list)
    delegations = [d for s in subnets if isinstance(s, dict) for d in s["properties"].get("delegations", [])]  # type: ignore[union-attr]
    assert [d["properties"]["serviceName"] for d in delegations] == ["Microsoft.App/environments"]  # type: ignore[index,call-overload]
    site = function_app(deployment)
    assert bicep.mentions(site.properties["virtualNetworkSubnetId"], "virtualNetworks")
    groups = sorted(
        bicep.text(endpoint.properties["privateLinkServiceConnections"][0]["properties"]["groupIds"][0])  # type: ignore[index,call-overload]
        for endpoint in resources(deployment, "Microsoft.Network/privateEndpoints")
    )
    assert groups == ["blob", "queue", "table", "vault"]


def test_operator_addresses_open_the_firewalls_to_them_only() -> None:
    deployment = deploy(allowedIpAddresses="203.0.113.7, 198.51.100.0/24")
    for type_ in ("Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults"):
        properties = one(deployment, type_).properties
        assert properties["publicNetworkAccess"] == "Enabled"
        acls = properties["networkAcls"]
        assert isinstance(acls, dict)
        assert acls["defaultAction"] == "Deny"
        assert [rule["value"] for rule in acls["ipRules"]] == ["203.0.113.7", "198.51.100.0/24"]  # type: ignore[union-attr,index,call-overload]


def test_public_mode_has_no_network_resources() -> None:
    deployment = deploy(usePrivateEndpoints=False)
    assert not resources(deployment, "Microsoft.Network/virtualNetworks")
    assert not resources(deployment, "Microsoft.Network/privateEndpoints")
    assert function_app(deployment).properties["virtualNetworkSubnetId"] is None
    storage = one(deployment, "Microsoft.Storage/storageAccounts").properties
    assert storage["publicNetworkAccess"] == "Enabled"
    assert storage["allowSharedKeyAccess"] is False


def test_premium_service_bus_and_private_app_get_private_endpoints() -> None:
    deployment = deploy(serviceBusSku="Premium", functionAppPublicNetworkAccess="Disabled")
    assert one(deployment, "Microsoft.ServiceBus/namespaces").properties["publicNetworkAccess"] == "Disabled"
    assert function_app(deployment).properties["publicNetworkAccess"] == "Disabled"
    groups = {
        bicep.text(endpoint.properties["privateLinkServiceConnections"][0]["properties"]["groupIds"][0])  # type: ignore[index,call-overload]
        for endpoint in resources(deployment, "Microsoft.Network/privateEndpoints")
    }
    assert {"namespace", "sites"} <= groups


def test_azure_yaml_deploys_the_root_as_a_python_function_app() -> None:
    lines = [line.split("#", 1)[0].rstrip() for line in (ROOT / "azure.yaml").read_text(encoding="utf-8").splitlines()]
    text = "\n".join(line for line in lines if line.strip())
    assert re.search(r"^services:\n  api:\n(    .+\n?)+", text, re.M), text
    service = dict(
        line.strip().split(": ", 1)
        for line in lines
        if line.startswith("    ") and ": " in line and not line.startswith("     ")
    )
    assert service["project"] == "."
    assert service["language"] == "python"
    assert service["host"] == "function"
    assert re.search(r"^infra:\n  provider: bicep\n  path: infra", text, re.M)


def immutability_of(deployment: bicep.Deployment, container: str) -> bicep.ResourceInstance:
    kind = "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies"
    name = f"/default/{container}/default"
    found = [p for p in resources(deployment, kind) if bicep.render(p.full_name).endswith(name)]
    assert len(found) == 1, container
    return found[0]


def test_the_register_is_kept_24_months_write_once_and_then_deleted() -> None:
    """CCPA Regulations §7101: the record of every request is kept 24 months; appends stay possible."""
    deployment = deploy()
    assert immutability_of(deployment, "dsr-register").properties == {
        "immutabilityPeriodSinceCreationInDays": 731,
        "allowProtectedAppendWrites": True,
    }
    policy = one(deployment, "Microsoft.Storage/storageAccounts/managementPolicies").properties["policy"]
    assert isinstance(policy, dict)
    assert isinstance(policy["rules"], list)
    rules = {rule["name"]: rule["definition"] for rule in policy["rules"] if isinstance(rule, dict)}
    register = rules["delete-expired-register"]
    assert isinstance(register, dict)
    assert register["filters"] == {"blobTypes": ["appendBlob"], "prefixMatch": ["dsr-register/"]}
    assert register["actions"] == {"baseBlob": {"delete": {"daysAfterModificationGreaterThan": 732}}}
