"""kopf operator reconciling ProviderTenant and AgentSession."""
