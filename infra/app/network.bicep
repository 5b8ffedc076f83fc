// The VNet used when usePrivateEndpoints is true: one subnet delegated to Microsoft.App/environments
// for Flex Consumption VNet integration (all of the app's outbound traffic then goes through it), and
// one for private endpoints. Both subnets have a network security group.
param name string
param location string
param tags object = {}
param addressPrefix string = '10.20.0.0/16'
@description('Subnet for Flex Consumption VNet integration (delegated to Microsoft.App/environments).')
param appSubnetPrefix string = '10.20.1.0/24'
@description('Subnet for the private endpoints.')
param privateEndpointSubnetPrefix string = '10.20.2.0/24'

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-01-01' = {
  name: '${name}-app-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource privateEndpointNsg 'Microsoft.Network/networkSecurityGroups@2024-01-01' = {
  name: '${name}-pe-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: {
            id: appNsg.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: privateEndpointNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

output id string = vnet.id
output appSubnetId string = vnet.properties.subnets[0].id
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
