using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using k8s.Models;

namespace Platform.Deploy.Tests;

/// <summary>The .NET SDK container settings of every service (services/Directory.Build.props), as MSBuild evaluates them, and the manifests' images.</summary>
public sealed class ImageTests
{
    public static TheoryData<string> Services => new(Repository.Services);

    [Theory, MemberData(nameof(Services))]
    public void TheServiceImage_IsChiseled_NonRoot_Pinned_AndTheOneTheManifestsRun(string service)
    {
        var properties = Evaluate(service, "EnableSdkContainerSupport", "ContainerBaseImage", "ContainerUser", "ContainerRepository", "ContainerImageTags");

        Assert.Equal("true", properties["EnableSdkContainerSupport"]);
        // A chiseled ASP.NET Core runtime image with a full version tag, of the runtime the services are tested on.
        var baseImage = Regex.Match(properties["ContainerBaseImage"], @"^mcr\.microsoft\.com/dotnet/aspnet:(\d+)\.(\d+)\.\d+-[a-z]+-chiseled(-extra)?$");
        Assert.True(baseImage.Success, properties["ContainerBaseImage"]);
        Assert.Equal($"{Environment.Version.Major}.{Environment.Version.Minor}", $"{baseImage.Groups[1].Value}.{baseImage.Groups[2].Value}");
        Assert.True(int.TryParse(properties["ContainerUser"], out var user) && user > 0, $"ContainerUser {properties["ContainerUser"]}");
        Assert.Equal($"platform/{service}", properties["ContainerRepository"]);
        var tags = properties["ContainerImageTags"].Split(';', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(tags);
        Assert.DoesNotContain("latest", tags);

        foreach (var overlay in new[] { "overlays/dev", "overlays/production" })
        {
            var deployment = Manifests.Render(overlay).One<V1Deployment>(service);
            var image = deployment.Spec.Template.Spec.Containers.Single().Image;
            var (name, tag) = (image[..image.LastIndexOf(':')], image[(image.LastIndexOf(':') + 1)..]);
            Assert.True(name == properties["ContainerRepository"] || name.EndsWith("/" + properties["ContainerRepository"], StringComparison.Ordinal), $"{overlay}: {image}");
            Assert.Contains(tag, tags);
            Assert.Equal(user, deployment.Spec.Template.Spec.SecurityContext.RunAsUser);
        }
    }

    private static Dictionary<string, string> Evaluate(string service, params string[] names)
    {
        var project = Path.Combine(Repository.ServiceFolder(service), char.ToUpperInvariant(service[0]) + service[1..] + ".csproj");
        var info = new ProcessStartInfo("dotnet", ["msbuild", project, "-nologo", .. names.Select(n => "-getProperty:" + n)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, output + process.StandardError.ReadToEnd());
        using var json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("Properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
    }
}
