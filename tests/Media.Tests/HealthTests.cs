using Platform.Testing;

namespace Platform.Media.Tests;

public sealed class HealthTests(PlatformInfrastructure infrastructure) : PostgresServiceHealthTests<Program>(infrastructure)
{
    protected override ServiceFactory<Program> CreateFactory() =>
        base.CreateFactory().WithSetting("Media:SigningKey", Convert.ToBase64String(new byte[32]));
}
