using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Platform.Testing;

/// <summary>
/// Runs a Node script (an outside client: the official JavaScript SignalR client, our TypeScript SDK) and reads the
/// JSON line it ends with.
/// </summary>
public static class NodeScript
{
    /// <param name="script">The script's path inside the repository, e.g. <c>tests/js-client/resume-check.js</c>; it runs in its folder.</param>
    /// <param name="diagnostics">What to add to a failure message (e.g. the services' output).</param>
    public static async Task<JsonElement> RunAsync(
        string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        var path = Path.Combine(TestInfrastructure.RepositoryRoot, script);
        var info = new ProcessStartInfo("node", [path])
        {
            WorkingDirectory = Path.GetDirectoryName(path)!, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        using var node = Process.Start(info)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        try
        {
            await node.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            node.Kill(entireProcessTree: true);
            Assert.Fail($"{script} did not finish within {timeout.TotalSeconds:0} s: {await errors}{diagnostics?.Invoke()}");
        }
        Assert.True(node.ExitCode == 0, $"{script} exited {node.ExitCode}: {await errors}\n{await output}{diagnostics?.Invoke()}");
        return JsonDocument.Parse((await output).Trim().Split('\n')[^1]).RootElement.Clone();
    }
}
