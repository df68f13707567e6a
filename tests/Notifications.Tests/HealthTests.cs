using Platform.Testing;

namespace Platform.Notifications.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : PostgresServiceHealthTests<Program>(infrastructure);
