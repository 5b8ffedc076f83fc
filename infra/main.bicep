// cvdsr on Azure: `azd up` provisions this file (subscription scope) and deploys the function app.
//
// Layout (the azd template style of functions-quickstart-python-http-azd, without registry modules so
// that the whole template can be compiled, scanned and tested offline):
//   main.bicep                 resource group, names, the app settings cvdsr reads, module wiring
//   app/identity.bicep         the user-assigned managed identity every connection uses
//   app/monitoring.bicep       Log Analytics + Application Insights (Entra-only ingestion)
//   app/storage.bicep          host storage, request/event queues, results + audit containers, retention
//   app/servicebus.bicep       intake queue, events topic with duplicate detection, a filtered subscription
//   app/keyvault.bicep         Custom Vision training keys (values are set out of band, never in Bicep)
//   app/function-app.bicep     Flex Consumption plan + function app, identity-based connections only
//   app/rbac.bicep             every role assignment, each with what it is for
//   app/network.bicep          VNet for Flex VNet integration and private endpoints (usePrivateEndpoints)
//   app/private-endpoints.bicep private endpoints + private DNS zones (usePrivateEndpoints)
// docs/deploy.md walks through all of it.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it derives a unique token for resource names.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person or group running azd. When set, it may set Key Vault secrets (the training keys) and read results. Empty: no human access is granted.')
param principalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
@description('Kind of principal in principalId.')
param principalType string = 'User'

@description('Private by default: VNet integration for the app and private endpoints for Storage and Key Vault (and Service Bus when Premium); their public network access is disabled.')
param usePrivateEndpoints bool = true

@description('Comma-separated public IPv4 addresses or CIDR ranges allowed through the Storage and Key Vault firewalls (an operator workstation setting training keys). Empty: none.')
param allowedIpAddresses string = ''

@allowed([
  'Enabled'
  'Disabled'
])
@description('Inbound access to the function app (POST /api/requests, GET /api/requests/{id}, and azd deploy). Disabled adds a private endpoint for the app when usePrivateEndpoints is true.')
param functionAppPublicNetworkAccess string = 'Enabled'

@allowed([
  'Standard'
  'Premium'
])
@description('Service Bus tier. Standard has no private endpoints; Premium gets one when usePrivateEndpoints is true.')
param serviceBusSku string = 'Standard'

@minValue(1)
@maxValue(40)
@description('Flex Consumption scale-out limit. Every instance paces the Training API on its own: the per-process ceiling (CVDSR_API_RATE_PER_SECOND) is divided by this number, and above 8 instances the adaptive pacing shares the 10 calls/s of a Custom Vision resource (its floor, 0.25/s, times 40 is 10). 40 is also the lowest maximum some Flex Consumption documentation accepts; see docs/deploy.md.')
param maximumInstanceCount int = 1

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory (MB).')
param instanceMemoryMB int = 2048

@description('Spread the app\'s instances across availability zones (only in regions where Flex Consumption offers it).')
param zoneRedundant bool = false

@description('Custom Vision training resources cvdsr may work on. Each: {name, endpoint, keySecretName?, armResourceId?, privacyInfo?}. name: letters, digits, _ (the name requests use). keySecretName defaults to customvision-<name>-training-key. armResourceId (optional) enables the account row and, with grantCustomVisionAccountDelete, the account erase. privacyInfo (optional): the path, in the deployed app, of the resource\'s Art. 15 information file (e.g. privacy/contoso_prod.json).')
param customVisionResources array = []

@description('Grant the app Cognitive Services Contributor (instead of Reader) on each listed Custom Vision account, so an explicitly confirmed account erase can delete it.')
param grantCustomVisionAccountDelete bool = false

@minValue(1)
@description('Days after which everything under dsr-results/ is deleted by the lifecycle rule (exports hold personal data: keep this short).')
param resultsRetentionDays int = 30

@minValue(1)
@description('Days the dsr-audit container keeps each blob immutable (time-based retention), and after which the lifecycle rule deletes it.')
param auditRetentionDays int = 2190

@minValue(1)
@maxValue(168)
@description('Lifetime in hours of the read-only result link in completion events (CVDSR_RESULT_LINK_HOURS).')
param resultLinkHours int = 72

@description('Optional webhook that receives every completion event (CVDSR_WEBHOOK_URL).')
param webhookUrl string = ''

@description('Key Vault secret holding the webhook signing key (CVDSR_WEBHOOK_SECRET, as a Key Vault reference). Empty: no secret setting, and webhooks are not sent.')
param webhookSecretName string = ''

@description('Privacy platform connectors (docs/connectors.md): their plain settings, each {name, value}, e.g. {name: \'CVDSR_FIDES__RESOURCES\', value: \'contoso_prod\'}. Secrets go in connectorSecrets.')
param connectorSettings array = []

@description('The connectors\' secrets, each {name, secretName}: the setting becomes a Key Vault reference to secretName (its value never passes through the template), e.g. {name: \'CVDSR_FIDES__TOKEN\', secretName: \'fides-token\'}.')
param connectorSecrets array = []

@minLength(3)
@maxLength(45)
@description('When the certificate signing key expires (seconds since 1970; default two years from the first deployment: Key Vault creates a key once and leaves an existing one unchanged).')
param signingKeyExpiresAt int = dateTimeToEpoch(dateTimeAdd(utcNow(), 'P2Y'))

@description('Durable Functions task hub name (CVDSR_TASK_HUB; host.json reads it).')
param taskHubName string = 'cvdsr'

@description('Address space of the VNet created when usePrivateEndpoints is true, and its two /24 subnets.')
param vnetAddressPrefix string = '10.20.0.0/16'
param appSubnetPrefix string = '10.20.1.0/24'
param privateEndpointSubnetPrefix string = '10.20.2.0/24'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'cvdsr'
}
var allowedIps = filter(split(replace(allowedIpAddresses, ' ', ''), ','), ip => !empty(ip))

// Private mode (default): Storage and Key Vault deny public traffic except allowedIpAddresses, and are
// reached through private endpoints. Public mode (usePrivateEndpoints false): Flex Consumption has no
// fixed outbound addresses, so their firewalls admit all traffic; access is still Entra ID only.
var dataPublicNetworkAccess = usePrivateEndpoints && empty(allowedIps) ? 'Disabled' : 'Enabled'
var dataNetworkDefaultAction = usePrivateEndpoints ? 'Deny' : 'Allow'

// The names the app binds to. tests/infra checks these against function_app.py's bindings and the
// settings the app reads, by parsing this template: change them together with the app.
var names = {
  storageConnection: 'AzureWebJobsStorage'
  serviceBusConnection: 'ServiceBusConnection'
  requestsQueue: 'dsr-requests'
  eventsQueue: 'dsr-events'
  resultsContainer: 'dsr-results'
  auditContainer: 'dsr-audit'
  deploymentContainer: 'app-package'
  requestsServiceBusQueue: 'dsr-requests'
  eventsTopic: 'dsr-events'
}

// Training API pacing: the API allows 10 calls/s per key. Each Python worker process paces itself
// (CVDSR_API_RATE_PER_SECOND, a token bucket per resource), and Flex runs one process per instance,
// so the sum of the ceilings over instances is rate x maximumInstanceCount. 8/s with one instance leaves
// headroom for retries; with more instances the ceiling is divided (at least 1/s each), and each
// process adapts below it to the 429s it meets (shared/customvision/throttle.py). See docs/deploy.md.
var apiRatePerSecond = max(1, 8 / maximumInstanceCount)

// Custom Vision resources, normalised: the setting names use the upper-cased name.
var customVision = [for item in customVisionResources: {
  settingName: toUpper(item.name)
  endpoint: item.endpoint
  keySecretName: contains(item, 'keySecretName') ? item.keySecretName : 'customvision-${replace(toLower(item.name), '_', '-')}-training-key'
  armResourceId: contains(item, 'armResourceId') ? item.armResourceId : ''
  privacyInfo: contains(item, 'privacyInfo') ? item.privacyInfo : ''
}]
var customVisionWithAccount = filter(customVision, cv => !empty(cv.armResourceId))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-cvdsr-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-cvdsr-${resourceToken}'
    applicationInsightsName: 'appi-cvdsr-${resourceToken}'
    location: location
    tags: tags
  }
}

module network 'app/network.bicep' = if (usePrivateEndpoints) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-cvdsr-${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stcvdsr${resourceToken}'
    location: location
    tags: tags
    storagePublicNetworkAccess: dataPublicNetworkAccess
    storageNetworkDefaultAction: dataNetworkDefaultAction
    allowedIpAddresses: allowedIps
    requestsQueueName: names.requestsQueue
    eventsQueueName: names.eventsQueue
    resultsContainerName: names.resultsContainer
    auditContainerName: names.auditContainer
    deploymentContainerName: names.deploymentContainer
    resultsRetentionDays: resultsRetentionDays
    auditRetentionDays: auditRetentionDays
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-cvdsr-${resourceToken}'
    location: location
    tags: tags
    sku: serviceBusSku
    privateNetwork: usePrivateEndpoints && serviceBusSku == 'Premium'
    requestsQueueName: names.requestsServiceBusQueue
    eventsTopicName: names.eventsTopic
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-cvdsr-${resourceToken}'
    location: location
    tags: tags
    vaultPublicNetworkAccess: dataPublicNetworkAccess
    vaultNetworkDefaultAction: dataNetworkDefaultAction
    allowedIpAddresses: allowedIps
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    signingKeyExpiresAt: signingKeyExpiresAt
  }
}

// Settings the app reads (README "Settings"). Secrets are Key Vault references resolved by the
// platform with the user-assigned identity (keyVaultReferenceIdentity); their values are never here.
var cvdsrSettings = [
  {
    name: 'CVDSR_TASK_HUB'
    value: taskHubName
  }
  {
    name: 'CVDSR_RESULTS_CONTAINER'
    value: storage.outputs.resultsContainerName
  }
  {
    name: 'CVDSR_EVENTS_QUEUE'
    value: storage.outputs.eventsQueueName
  }
  {
    name: 'CVDSR_AUDIT_CONTAINER'
    value: storage.outputs.auditContainerName
  }
  {
    name: 'CVDSR_EVENTS_TOPIC'
    value: serviceBus.outputs.eventsTopicName
  }
  {
    name: 'CVDSR_RESULT_LINK_HOURS'
    value: string(resultLinkHours)
  }
  {
    name: 'CVDSR_API_RATE_PER_SECOND'
    value: string(apiRatePerSecond)
  }
  {
    name: 'CVDSR_WEBHOOK_URL'
    value: webhookUrl
  }
  {
    // Erasure certificates are signed (ES256) with this Key Vault key, as the app identity (shared/signing.py)
    name: 'CVDSR_SIGNING__KEY_VAULT_KEY_ID'
    value: keyVault.outputs.signingKeyId
  }
  {
    // dsr_sweep: announces terminated and failed requests, times out stuck ones (shared/endings.py)
    name: 'CVDSR_SWEEP_SCHEDULE'
    value: '0 */5 * * * *'
  }
]
var webhookSecretSettings = empty(webhookSecretName) ? [] : [
  {
    name: 'CVDSR_WEBHOOK_SECRET'
    value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${webhookSecretName}/)'
  }
]
var connectorSecretSettings = [for secret in connectorSecrets: {
  name: secret.name
  value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${secret.secretName}/)'
}]
var customVisionSettingGroups = [for cv in customVision: [
  {
    name: 'CUSTOMVISION__${cv.settingName}__ENDPOINT'
    value: cv.endpoint
  }
  {
    name: 'CUSTOMVISION__${cv.settingName}__TRAININGKEY'
    value: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${cv.keySecretName}/)'
  }
  {
    name: 'CUSTOMVISION__${cv.settingName}__ARMRESOURCEID'
    value: cv.armResourceId
  }
  {
    name: 'CUSTOMVISION__${cv.settingName}__PRIVACY_INFO'
    value: cv.privacyInfo
  }
]]

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: 'func-cvdsr-${resourceToken}'
    planName: 'plan-cvdsr-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageConnectionName: names.storageConnection
    deploymentContainerName: storage.outputs.deploymentContainerName
    serviceBusNamespaceName: serviceBus.outputs.name
    serviceBusConnectionName: names.serviceBusConnection
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appSettings: concat(cvdsrSettings, webhookSecretSettings, flatten(customVisionSettingGroups), connectorSettings, connectorSecretSettings)
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    zoneRedundant: zoneRedundant
    publicNetworkAccess: functionAppPublicNetworkAccess
    virtualNetworkSubnetId: usePrivateEndpoints ? network.outputs.appSubnetId : ''
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    requestsServiceBusQueueName: serviceBus.outputs.requestsQueueName
    eventsTopicName: serviceBus.outputs.eventsTopicName
    keyVaultName: keyVault.outputs.name
    signingKeyName: keyVault.outputs.signingKeyName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

// The same RBAC module, deployed into each Custom Vision account's resource group: Reader for the
// account row, or Cognitive Services Contributor for the opt-in account erase.
module customVisionRbac 'app/rbac.bicep' = [for (cv, index) in customVisionWithAccount: {
  name: 'rbac-customvision-${index}'
  scope: resourceGroup(split(cv.armResourceId, '/')[2], split(cv.armResourceId, '/')[4])
  params: {
    appPrincipalId: identity.outputs.principalId
    customVisionAccountNames: [
      last(split(cv.armResourceId, '/'))
    ]
    customVisionAccountRole: grantCustomVisionAccountDelete ? 'CognitiveServicesContributor' : 'Reader'
  }
}]

module privateEndpoints 'app/private-endpoints.bicep' = if (usePrivateEndpoints) {
  name: 'private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    virtualNetworkId: usePrivateEndpoints ? network.outputs.id : ''
    subnetId: usePrivateEndpoints ? network.outputs.privateEndpointSubnetId : ''
    storageAccountId: storage.outputs.id
    keyVaultId: keyVault.outputs.id
    serviceBusNamespaceId: serviceBusSku == 'Premium' ? serviceBus.outputs.id : ''
    functionAppId: functionAppPublicNetworkAccess == 'Disabled' ? functionApp.outputs.id : ''
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_SERVICEBUS_NAMESPACE string = serviceBus.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output CVDSR_RESULTS_CONTAINER string = storage.outputs.resultsContainerName
output CVDSR_AUDIT_CONTAINER string = storage.outputs.auditContainerName
