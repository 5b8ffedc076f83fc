// The user-assigned managed identity of the function app. Every connection (host storage, Service Bus,
// Key Vault references, Application Insights, deployment storage) authenticates as this identity;
// app/rbac.bicep grants it exactly what each connection needs.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
