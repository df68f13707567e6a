using Platform.Testing;

namespace Platform.Gateway.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : ServiceHealthTests<Program>(infrastructure);
