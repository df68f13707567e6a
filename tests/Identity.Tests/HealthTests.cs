using Platform.Testing;

namespace Platform.Identity.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : PostgresServiceHealthTests<Program>(infrastructure);
