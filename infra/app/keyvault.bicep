// Key Vault for the Custom Vision training keys (and the optional webhook signing secret), and the EC
// P-256 key that signs erasure certificates (ES256; it never leaves the vault). RBAC mode:
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

@description('Name of the key that signs erasure certificates (CVDSR_SIGNING__KEY_VAULT_KEY_ID is its versioned URL).')
param signingKeyName string = 'certificate-signing'

@description('When the signing key expires, in seconds since 1970 (Key Vault refuses to sign with an expired key; certificates it signed still verify with its public key).')
param signingKeyExpiresAt int

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

// Erasure certificates are signed with this key: sign and verify only, never exportable.
resource signingKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  // checkov:skip=CKV_AZURE_112: the vault is Standard, whose keys are software-protected; an HSM key (EC-HSM) needs the Premium SKU, a cost this template leaves to the operator (docs/deploy.md)
  parent: vault
  name: signingKeyName
  properties: {
    kty: 'EC'
    curveName: 'P-256'
    keyOps: [
      'sign'
      'verify'
    ]
    attributes: {
      enabled: true
      exportable: false
      exp: signingKeyExpiresAt
    }
    // Key Vault notifies (Event Grid) 30 days before a version expires; rotation is the operator's step.
    rotationPolicy: {
      attributes: {
        expiryTime: 'P2Y'
      }
      lifetimeActions: [
        {
          trigger: {
            timeBeforeExpiry: 'P30D'
          }
          action: {
            type: 'notify'
          }
        }
      ]
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
output signingKeyName string = signingKey.name
output signingKeyId string = signingKey.properties.keyUriWithVersion
