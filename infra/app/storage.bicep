// Host storage of the function app (AzureWebJobsStorage: Durable task hub, host keys and locks), the
// request and event queues, the results, audit, register and deployment containers, and their retention.
// Shared keys are disabled: every client (the app, azd, people) authenticates with Entra ID.
param name string
param location string
param tags object = {}

@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled (the default): reachable only through private endpoints. main.bicep enables it for the opt-out public mode, or when allowedIpAddresses are given.')
param storagePublicNetworkAccess string = 'Disabled'

@allowed([
  'Allow'
  'Deny'
])
@description('Firewall default for public traffic: Deny admits only allowedIpAddresses (and private endpoints).')
param storageNetworkDefaultAction string = 'Deny'

@description('Public IPv4 addresses or CIDR ranges admitted through the firewall.')
param allowedIpAddresses array = []

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Replication. ZRS keeps the results and the task hub available through a zone outage.')
param skuName string = 'Standard_ZRS'

param requestsQueueName string
param eventsQueueName string
param resultsContainerName string
param auditContainerName string
param deploymentContainerName string
param resultsRetentionDays int
param auditRetentionDays int

@minValue(731)
@description('Days the dsr-register container keeps each month of the request register immutable, and after which the lifecycle rule deletes it (CCPA Regulations 7101: 24 months).')
param registerRetentionDays int = 731
param logAnalyticsWorkspaceId string = ''

// The Functions host moves a Storage-queue message that failed maxDequeueCount times here.
var poisonQueueName = '${requestsQueueName}-poison'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_36: No trusted Azure service needs to reach this account through the firewall (bypass None): the app comes through its private endpoints, diagnostics go to Log Analytics, and lifecycle management is internal.
  // checkov:skip=CKV_AZURE_206: ZRS by default, on purpose: results are derived from Custom Vision and expire after resultsRetentionDays, and geo-replication would put a second copy of exported personal data in another region. skuName accepts Standard_GZRS where policy requires it.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: storagePublicNetworkAccess
    networkAcls: {
      defaultAction: storageNetworkDefaultAction
      // No Azure service needs to come through the firewall: the app uses its private endpoints.
      bypass: 'None'
      ipRules: [for ip in allowedIpAddresses: {
        value: ip
        action: 'Allow'
      }]
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // A deleted blob or container can be restored for 7 days (an operator's mistake, not retention).
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Results of every request: {request_id}/request.json, manifest.json, data/…, report.html, export.zip,
// audit.jsonl, erasure-certificate.json. Exports hold personal data, so the lifecycle rule below
// deletes everything here after resultsRetentionDays.
resource resultsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: resultsContainerName
  properties: {
    publicAccess: 'None'
  }
}

// cvdsr's own state: the key of the HMAC fingerprints that stand for a person's identifiers in
// orchestration history, request.json and certificates (shared/fingerprints.py). No lifecycle rule:
// losing the key would make every repeat of an earlier request a conflict.
resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'cvdsr-state'
  properties: {
    publicAccess: 'None'
  }
}

// Write-once evidence (audit logs, erasure certificates): a container-level time-based retention
// policy. Append blobs can still grow (allowProtectedAppendWrites); nothing can be overwritten or
// deleted until auditRetentionDays after the last write. The policy is created unlocked; lock it once
// verified (docs/deploy.md) to make it irreversible.
resource auditContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: auditContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource auditRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: auditContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    allowProtectedAppendWrites: true
  }
}

// The request register (shared/register.py, CCPA Regulations 7101): one append blob per month of
// receipt. Appends stay possible (allowProtectedAppendWrites); nothing can be overwritten or deleted
// for registerRetentionDays, after which the lifecycle rule below deletes it.
resource registerContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'dsr-register'
  properties: {
    publicAccess: 'None'
  }
}

resource registerRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: registerContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: registerRetentionDays
    allowProtectedAppendWrites: true
  }
}

// Flex Consumption deployment packages (azd deploy uploads here through the app's identity).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Intake: a ticketing system sends requests here (Storage Queue Data Message Sender on this queue).
resource requestsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: requestsQueueName
}

resource requestsPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: poisonQueueName
}

// Completion events on a Storage queue (CVDSR_EVENTS_QUEUE).
resource eventsQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: eventsQueueName
}

// Durable Functions keeps its history and instances tables here; the host creates them.
resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-results'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
                'appendBlob'
              ]
              prefixMatch: [
                '${resultsContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: resultsRetentionDays
                }
              }
            }
          }
        }
        {
          name: 'delete-expired-audit'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
                'appendBlob'
              ]
              prefixMatch: [
                '${auditContainerName}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: auditRetentionDays + 1
                }
              }
            }
          }
        }
        {
          name: 'delete-expired-register'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'appendBlob'
              ]
              prefixMatch: [
                '${registerContainer.name}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: registerRetentionDays + 1
                }
              }
            }
          }
        }
      ]
    }
  }
}

// Who read, wrote or deleted results and queue messages: data-plane logs to Log Analytics.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output resultsContainerName string = resultsContainer.name
output auditContainerName string = auditContainer.name
output registerContainerName string = registerContainer.name
output deploymentContainerName string = deploymentContainer.name
output requestsQueueName string = requestsQueue.name
output eventsQueueName string = eventsQueue.name
