using Platform.Testing;

namespace Platform.Media.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : PostgresServiceHealthTests<Program>(infrastructure);
