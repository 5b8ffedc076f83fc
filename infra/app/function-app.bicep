// The function app on the Flex Consumption plan (FC1), Python 3.11, with identity-based connections
// only: no connection string, account key or SAS is in its settings. Host storage, the Service Bus
// trigger, Key Vault references, telemetry and the deployment package all use the user-assigned
// identity whose roles are in app/rbac.bicep.
param name string
param planName string
param location string
param tags object = {}

param identityId string
param identityClientId string
param storageAccountName string
@description('Binding connection name of host storage (the Storage queue trigger uses it too).')
param storageConnectionName string = 'AzureWebJobsStorage'
param deploymentContainerName string
param serviceBusNamespaceName string
@description('Binding connection name of the Service Bus trigger and the events topic sender.')
param serviceBusConnectionName string = 'ServiceBusConnection'
param applicationInsightsName string

@description('The app\'s own settings, as name/value pairs (from main.bicep).')
param appSettings array = []

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 1
param instanceMemoryMB int = 2048

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Subnet delegated to Microsoft.App/environments for VNet integration; empty for none.')
param virtualNetworkSubnetId string = ''

@description('Spread instances across availability zones (Flex Consumption offers it only in some regions).')
param zoneRedundant bool = false

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Identity-based connections: <connection>__<property> settings, read by the Functions host for its
// triggers and by the app (shared/connections.py, shared/events/channels.py) for its own clients.
var connectionSettings = [
  {
    name: '${storageConnectionName}__credential'
    value: 'managedidentity'
  }
  {
    name: '${storageConnectionName}__clientId'
    value: identityClientId
  }
  {
    name: '${storageConnectionName}__blobServiceUri'
    value: storage.properties.primaryEndpoints.blob
  }
  {
    name: '${storageConnectionName}__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: '${storageConnectionName}__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: '${serviceBusConnectionName}__fullyQualifiedNamespace'
    value: split(split(serviceBus.properties.serviceBusEndpoint, '//')[1], ':')[0]
  }
  {
    name: '${serviceBusConnectionName}__credential'
    value: 'managedidentity'
  }
  {
    name: '${serviceBusConnectionName}__clientId'
    value: identityClientId
  }
]

// Classic Application Insights integration of the Functions host (one pipeline: host and worker logs
// both go through it), authenticated with Entra ID because the component disables local auth.
var telemetrySettings = [
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  {
    // DefaultAzureCredential in the worker picks the user-assigned identity.
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  // checkov:skip=CKV_AZURE_225: Zone redundancy is a parameter (zoneRedundant), off by default because Flex Consumption offers it only in some regions; the state that matters survives a zone outage in ZRS storage (task hub, results).
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Callers authenticate with function keys over TLS 1.2, and ticketing systems usually use the queues with Entra ID; mutual TLS client certificates are not part of cvdsr's contract.
  // checkov:skip=CKV_AZURE_222: Public inbound access is a parameter (functionAppPublicNetworkAccess), Enabled by default because POST /api/requests and GET /api/requests/{id} serve the ticketing system and azd deploy publishes through the app's endpoint; every function requires a function key. Disabled adds a private endpoint.
  // checkov:skip=CKV_AZURE_212: One instance at most by default, on purpose: the Training API allows 10 calls/s per key and each instance paces itself (maximumInstanceCount divides CVDSR_API_RATE_PER_SECOND). Flex Consumption replaces a failed instance and Durable Functions resumes from the task hub.
  // checkov:skip=CKV_AZURE_213: cvdsr has no health endpoint: its work is queue- and Durable-driven, and a probe path would only exercise the HTTP scale group. Flex Consumption replaces failed instances itself.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: publicNetworkAccess
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(connectionSettings, telemetrySettings, appSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No basic-auth publishing: FTP is off and deployments (azd) authenticate with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = functionApp.id
output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
