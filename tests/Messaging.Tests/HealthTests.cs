using Platform.Testing;

namespace Platform.Messaging.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : PostgresServiceHealthTests<Program>(infrastructure);
