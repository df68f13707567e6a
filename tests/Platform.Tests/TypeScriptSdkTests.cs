using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Testing;
using Xunit.Abstractions;

namespace Platform.Tests;

/// <summary>
/// The TypeScript SDK (<c>clients/typescript</c>): its types come from the services' OpenAPI documents as served here,
/// and its built package, run by Node, keeps the delivery promise against the whole platform with real sign-in.
/// </summary>
[Collection(WholePlatformCollection.Name)]
public sealed class TypeScriptSdkTests(WholePlatform platform, ITestOutputHelper output)
{
    private static readonly string[] Documented = ["identity", "messaging", "presence", "notifications", "media"];

    /// <summary>
    /// Each service's document, through the Gateway, is the one checked in under <c>clients/typescript/openapi</c> (which
    /// <c>npm run generate</c> turns into <c>src/generated</c>). With <c>PLATFORM_UPDATE_OPENAPI=1</c> the test writes
    /// them instead: that is how they are refreshed after an API change.
    /// </summary>
    [Fact]
    public async Task ServicesOpenApiDocuments_AreTheOnesTheTypeScriptSdkIsGeneratedFrom()
    {
        var folder = Path.Combine(SdkFolder(), "openapi");
        var update = Environment.GetEnvironmentVariable("PLATFORM_UPDATE_OPENAPI") == "1";
        using var http = platform.Anonymous(platform.Gateway1);
        var stale = new List<string>();
        foreach (var service in Documented)
        {
            var served = await platform.ReadAsync(await http.GetAsync($"openapi/{service}.json"), HttpStatusCode.OK, $"{service}'s OpenAPI document", platform.Gateway1);
            var document = Normalized(served);
            var path = Path.Combine(folder, service + ".json");
            if (update)
                await File.WriteAllTextAsync(path, document);
            else if (!File.Exists(path) || await File.ReadAllTextAsync(path) != document)
                stale.Add(service);
        }
        Assert.True(stale.Count == 0,
            $"The OpenAPI documents of {string.Join(", ", stale)} changed: refresh them with `PLATFORM_UPDATE_OPENAPI=1 dotnet test tests/Platform.Tests " +
            "--filter FullyQualifiedName~TypeScriptSdkTests.ServicesOpenApi`, then `npm run generate --prefix clients/typescript` (clients/typescript/README.md).");
    }

    /// <summary>
    /// <c>clients/typescript/test/integration/stream-check.mjs</c> with the built package: two users sign in with the password
    /// grant through the Gateway; one streams 200 messages while the other's connection is cut twice (a TCP proxy that drops
    /// every socket); the receiver's stream hands out every event once, in seq order.
    /// </summary>
    [Fact]
    public async Task BuiltTypeScriptSdk_StreamsEveryEventOnceInOrder_AcrossTwoDroppedConnections()
    {
        var sender = await platform.SignUpAsync("TS Sender");
        var receiver = await platform.SignUpAsync("TS Receiver", platform.Gateway2);

        var result = await RunNodeAsync("test/integration/stream-check.mjs", new Dictionary<string, string>
        {
            ["GATEWAY"] = platform.Gateway1.BaseAddress.ToString(),
            ["RECEIVER_GATEWAY"] = platform.Gateway2.BaseAddress.ToString(),
            ["SENDER_EMAIL"] = sender.Email,
            ["RECEIVER_EMAIL"] = receiver.Email,
            ["RECEIVER_ID"] = receiver.Id.ToString(),
            ["PASSWORD"] = WholePlatform.UserPassword,
            ["COUNT"] = "200",
            ["DROPS"] = "2",
        }, TimeSpan.FromMinutes(3));
        output.WriteLine(result.ToString());

        Assert.Equal(200, result.GetProperty("messages").GetInt32());
        Assert.Equal(0, result.GetProperty("missing").GetInt32());
        Assert.Equal(0, result.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, result.GetProperty("orderViolations").GetInt32());
        Assert.Equal(2, result.GetProperty("drops").GetInt32());
        Assert.True(result.GetProperty("reconnects").GetInt32() >= 2, $"the stream reconnected after each drop: {result}");
        Assert.True(result.GetProperty("lastDelivered").GetBoolean(), $"the stream acknowledged what it handed out: {result}");
    }

    // The served document names the address it was served at (servers): left out, so the files do not change per run.
    private static string Normalized(JsonElement served)
    {
        var document = JsonNode.Parse(served.GetRawText())!.AsObject();
        document.Remove("servers");
        return document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }).ReplaceLineEndings("\n") + "\n";
    }

    private static string SdkFolder() => Path.Combine(TestInfrastructure.RepositoryRoot, "clients", "typescript");

    private Task<JsonElement> RunNodeAsync(string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        Assert.True(File.Exists(Path.Combine(SdkFolder(), "dist", "index.js")),
            "Build the TypeScript SDK first: `npm ci --prefix clients/typescript && npm run build --prefix clients/typescript` (./platform test does).");
        return NodeScript.RunAsync(Path.Combine("clients", "typescript", script), environment, timeout,
            () => platform.OutputOf(platform.Gateway1, platform.Gateway2, platform.Messaging));
    }
}
