// Service Bus: the intake queue dsr-requests (the same request body as the Storage queue and HTTP) and
// the events topic dsr-events (CloudEvents, message_id = {request_id}:{status}). Local (SAS key)
// authentication is disabled: senders and receivers use Entra ID roles scoped to one entity.
param name string
param location string
param tags object = {}

@allowed([
  'Standard'
  'Premium'
])
param sku string = 'Standard'

@description('Premium only: disable public network access (a private endpoint is added by private-endpoints.bicep).')
param privateNetwork bool = false

param requestsQueueName string
param eventsTopicName string

@minValue(1)
@description('Deliveries of an intake message before it is dead-lettered. Intake never fails on a bad request (it records a rejection), so repeated failures mean storage or the task hub is unavailable.')
param maxDeliveryCount int = 10

@description('How long the topic remembers message ids. Long enough to absorb a retried send of the same event, short enough that re-sending a finished request\'s event (a duplicate request) is delivered again.')
param duplicateDetectionWindow string = 'PT10M'

@description('An example subscription on the events topic: failed and partially succeeded requests, for the team that follows them up.')
param failuresSubscriptionName string = 'needs-attention'

param logAnalyticsWorkspaceId string = ''

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetwork ? 'Disabled' : 'Enabled'
  }
}

resource requestsQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: requestsQueueName
  properties: {
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    lockDuration: 'PT1M'
    maxSizeInMegabytes: 1024
    requiresSession: false
    enablePartitioning: false
  }
}

resource eventsTopic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: namespace
  name: eventsTopicName
  properties: {
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    defaultMessageTimeToLive: 'P14D'
    maxSizeInMegabytes: 1024
    enablePartitioning: false
  }
}

resource failuresSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: eventsTopic
  name: failuresSubscriptionName
  properties: {
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
  }
}

// Replaces the subscription's default catch-all rule: only events whose application property
// `status` is failed or partially_succeeded reach this subscription.
resource failuresRule 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: failuresSubscription
  name: '$Default'
  properties: {
    filterType: 'SqlFilter'
    sqlFilter: {
      sqlExpression: 'status = \'failed\' OR status = \'partially_succeeded\''
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

output id string = namespace.id
output name string = namespace.name
output requestsQueueName string = requestsQueue.name
output eventsTopicName string = eventsTopic.name
output failuresSubscriptionName string = failuresSubscription.name
