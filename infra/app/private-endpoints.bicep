// Private endpoints and their private DNS zones (usePrivateEndpoints): Storage blob/queue/table,
// Key Vault, Service Bus (Premium only) and, when its public access is disabled, the function app.
// The app reaches them through its VNet integration; nothing else in the VNet needs them.
param location string
param tags object = {}
param virtualNetworkId string
param subnetId string
param storageAccountId string
param keyVaultId string
@description('Empty for a Standard namespace (no private endpoints in that tier).')
param serviceBusNamespaceId string = ''
@description('Empty while the app keeps public inbound access.')
param functionAppId string = ''

var storageServices = [
  'blob'
  'queue'
  'table'
]

var storageTargets = [for service in storageServices: {
  name: 'storage-${service}'
  resourceId: storageAccountId
  groupId: service
  zone: 'privatelink.${service}.${environment().suffixes.storage}'
}]

var vaultTargets = [
  {
    name: 'keyvault'
    resourceId: keyVaultId
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
]

var serviceBusTargets = empty(serviceBusNamespaceId) ? [] : [
  {
    name: 'servicebus'
    resourceId: serviceBusNamespaceId
    groupId: 'namespace'
    zone: 'privatelink.servicebus.windows.net'
  }
]

var siteTargets = empty(functionAppId) ? [] : [
  {
    name: 'sites'
    resourceId: functionAppId
    groupId: 'sites'
    zone: 'privatelink.azurewebsites.net'
  }
]

var targets = concat(storageTargets, vaultTargets, serviceBusTargets, siteTargets)

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for target in targets: {
  name: target.zone
  location: 'global'
  tags: tags
}]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (target, index) in targets: {
  parent: zones[index]
  name: 'vnet-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: virtualNetworkId
    }
  }
}]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-01-01' = [for target in targets: {
  name: 'pe-${target.name}-${uniqueString(target.resourceId)}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: target.name
        properties: {
          privateLinkServiceId: target.resourceId
          groupIds: [
            target.groupId
          ]
        }
      }
    ]
  }
}]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-01-01' = [for (target, index) in targets: {
  parent: endpoints[index]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: target.groupId
        properties: {
          privateDnsZoneId: zones[index].id
        }
      }
    ]
  }
}]
