// Key Vault for the Custom Vision training keys (and the optional webhook signing secret). RBAC mode:
// the app reads secrets through Key Vault references with Key Vault Secrets User; an operator sets them
// with Key Vault Secrets Officer. Secret values are never in this template (docs/deploy.md).
param name string
param location string
param tags object = {}

@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled (the default): reachable only through private endpoints. main.bicep enables it for the opt-out public mode, or when allowedIpAddresses are given.')
param vaultPublicNetworkAccess string = 'Disabled'

@allowed([
  'Allow'
  'Deny'
])
@description('Firewall default for public traffic: Deny admits only allowedIpAddresses (and private endpoints).')
param vaultNetworkDefaultAction string = 'Deny'

@description('Public IPv4 addresses or CIDR ranges admitted through the firewall.')
param allowedIpAddresses array = []
param logAnalyticsWorkspaceId string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: vaultPublicNetworkAccess
    networkAcls: {
      defaultAction: vaultNetworkDefaultAction
      bypass: 'AzureServices'
      ipRules: [for ip in allowedIpAddresses: {
        value: ip
      }]
    }
  }
}

// Every secret read (each Key Vault reference resolution) and every change, to Log Analytics.
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
