using Platform.Testing;

namespace Platform.Presence.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : PostgresServiceHealthTests<Program>(infrastructure);
