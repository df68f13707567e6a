using Microsoft.Extensions.Configuration;
using Platform.ServiceDefaults;
using Platform.Testing;

namespace Platform.Identity.Tests;

/// <summary>Keys and secrets that were once committed are refused outside Development (tests run as "Testing").</summary>
public sealed class DevelopmentSecretTests(PlatformInfrastructure infrastructure) : IClassFixture<PlatformInfrastructure>
{
    [Fact]
    public void Find_NamesTheSettingsThatHoldAKnownDevelopmentSecret_AndNothingElse()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Media:SigningKey"] = "ZGV2ZWxvcG1lbnQtb25seS1tZWRpYS1zaWduaW5nLWtleS0wMDAwMDAwMA==",
            ["Identity:Clients:Services:notifications:Secret"] = "dev-only-notifications-secret",
            ["Identity:Clients:Services:media:Secret"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            ["Identity:DefaultPhoneRegion"] = "US",
        }).Build();

        Assert.Equal(["Identity:Clients:Services:notifications:Secret", "Media:SigningKey"], DevelopmentSecrets.Find(configuration));
    }

    [Fact]
    public async Task AService_WithAKnownDevelopmentSecret_OutsideDevelopment_RefusesToStart()
    {
        await using var identity = new ServiceFactory<Program>(infrastructure)
            .WithSetting("Identity:Clients:Services:messaging:Secret", "dev-only-messaging-secret");

        var failure = Assert.ThrowsAny<Exception>(() => identity.CreateClient());

        Assert.Contains("Identity:Clients:Services:messaging:Secret", failure.ToString());
        Assert.DoesNotContain("dev-only-messaging-secret", failure.Message);
    }
}
