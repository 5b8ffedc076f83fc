// Every role assignment of the deployment, in one place. Deployed twice by main.bicep: into the app's
// resource group (the app identity's data-plane roles and the optional operator roles), and into each
// Custom Vision account's resource group (the optional account roles). A parameter left empty skips
// its assignments. Role definition ids are Azure built-in roles.
param appPrincipalId string

param storageAccountName string = ''
param serviceBusNamespaceName string = ''
param requestsServiceBusQueueName string = ''
param eventsTopicName string = ''
param keyVaultName string = ''
@description('The Key Vault key (in keyVaultName) that signs erasure certificates; empty: no signing role.')
param signingKeyName string = ''
param applicationInsightsName string = ''

@description('Custom Vision accounts (names, in this resource group) the app may read, or delete when the role is CognitiveServicesContributor.')
param customVisionAccountNames array = []

@allowed([
  'Reader'
  'CognitiveServicesContributor'
])
param customVisionAccountRole string = 'Reader'

@description('Optional operator (person or group running azd): may set the training keys and read results.')
param userPrincipalId string = ''
param userPrincipalType string = 'User'

var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  cognitiveServicesContributor: '25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68'
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
}

var withStorage = !empty(storageAccountName)
var withServiceBus = !empty(serviceBusNamespaceName)
var withKeyVault = !empty(keyVaultName)
var withSigningKey = withKeyVault && !empty(signingKeyName)
var withMonitoring = !empty(applicationInsightsName)
var withUser = !empty(userPrincipalId)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (withStorage) {
  name: withStorage ? storageAccountName : 'unused'
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = if (withServiceBus) {
  name: withServiceBus ? serviceBusNamespaceName : 'unused'
}

resource requestsServiceBusQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = if (withServiceBus) {
  parent: serviceBus
  name: withServiceBus ? requestsServiceBusQueueName : 'unused'
}

resource eventsTopic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' existing = if (withServiceBus) {
  parent: serviceBus
  name: withServiceBus ? eventsTopicName : 'unused'
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = if (withKeyVault) {
  name: withKeyVault ? keyVaultName : 'unused'
}

resource signingKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' existing = if (withSigningKey) {
  parent: keyVault
  name: withSigningKey ? signingKeyName : 'unused'
}

// Only what signing a certificate needs: read the key (its public half) and sign with it. The narrowest
// built-in role, Key Vault Crypto User, also allows encrypt, decrypt, wrap, unwrap, verify and list.
resource certificateSignerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (withSigningKey) {
  name: guid(resourceGroup().id, 'cvdsr-certificate-signer')
  properties: {
    roleName: 'cvdsr certificate signer (${resourceGroup().name})'
    description: 'Read a Key Vault key and sign with it; nothing else (cvdsr erasure certificates).'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.KeyVault/vaults/keys/read'
          'Microsoft.KeyVault/vaults/keys/sign/action'
        ]
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = if (withMonitoring) {
  name: withMonitoring ? applicationInsightsName : 'unused'
}

resource customVisionAccounts 'Microsoft.CognitiveServices/accounts@2023-05-01' existing = [for account in customVisionAccountNames: {
  name: account
}]

// --- The app's managed identity -------------------------------------------------------------------

// Blobs of host storage: Durable task hub leases and large messages, host keys and locks (containers
// the host creates at run time, hence account scope), the results (dsr-results) and audit (dsr-audit)
// files the app writes, the deployment package Flex Consumption reads, and user-delegation keys for
// the read-only result links in completion events. Contributor, not Owner: no ACL management needed.
resource appBlobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withStorage) {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
  }
}

// Queues of host storage: the intake trigger on dsr-requests (and its poison queue), the Durable
// control and work-item queues (created at run time), and completion events on dsr-events.
resource appQueueData 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withStorage) {
  name: guid(storage.id, appPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

// Tables of host storage: the Durable task hub's History and Instances tables.
resource appTableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withStorage) {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// Service Bus intake: receive (and complete) messages of the dsr-requests queue only.
resource appServiceBusReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withServiceBus) {
  name: guid(requestsServiceBusQueue.id, appPrincipalId, roles.serviceBusDataReceiver)
  scope: requestsServiceBusQueue
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
  }
}

// Service Bus events: send completion events to the dsr-events topic only.
resource appServiceBusSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withServiceBus) {
  name: guid(eventsTopic.id, appPrincipalId, roles.serviceBusDataSender)
  scope: eventsTopic
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
  }
}

// Key Vault references: the platform reads the training keys (and webhook secret) as the app identity
// (keyVaultReferenceIdentity). Read secret values only; cannot list keys, certificates or change anything.
resource appKeyVaultSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withKeyVault) {
  name: guid(keyVault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// Erasure certificates: sign with the signing key (and read its public half), scoped to that one key;
// no other key, no secret, no key management (custom role above).
resource appCertificateSigner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withSigningKey) {
  name: guid(signingKey.id, appPrincipalId, 'cvdsr-certificate-signer')
  scope: signingKey
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: certificateSignerRole.id
  }
}

// Telemetry: Application Insights has local auth disabled, so ingestion needs this role (Entra auth).
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withMonitoring) {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

// Custom Vision accounts (those with an armResourceId): Reader lets the app export the account row
// (properties, SKU, endpoint; never key values); Cognitive Services Contributor additionally lets an
// explicitly confirmed erase delete the account. Purging the soft-deleted account needs a
// subscription-scope role that this template never grants (docs/deploy.md).
resource appCustomVision 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (account, index) in customVisionAccountNames: {
  name: guid(customVisionAccounts[index].id, appPrincipalId, customVisionAccountRole)
  scope: customVisionAccounts[index]
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', customVisionAccountRole == 'Reader' ? roles.reader : roles.cognitiveServicesContributor)
  }
}]

// --- The operator (optional) ----------------------------------------------------------------------

// Set and rotate the Custom Vision training keys and the webhook secret (secret values only).
resource userKeyVaultSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withUser && withKeyVault) {
  name: guid(keyVault.id, userPrincipalId, roles.keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

// Read request results (manifests, reports, certificates) for support; cannot change or delete them.
resource userBlobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (withUser && withStorage) {
  name: guid(storage.id, userPrincipalId, roles.storageBlobDataReader)
  scope: storage
  properties: {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
  }
}
