using System.Diagnostics;
using System.Text.Json;

namespace Platform.EndToEnd.Tests;

/// <summary>Runs a script of <c>tests/js-client</c> (the official JavaScript SignalR client) and reads the JSON line it ends with.</summary>
public static class NodeScript
{
    public static async Task<JsonElement> RunAsync(string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Platform.sln")))
            root = root.Parent!;
        var folder = Path.Combine(root.FullName, "tests", "js-client");
        Assert.True(Directory.Exists(Path.Combine(folder, "node_modules", "@microsoft", "signalr")),
            "Run `npm ci --prefix tests/js-client` first (./platform test does).");

        var info = new ProcessStartInfo("node", [Path.Combine(folder, script)]) { RedirectStandardOutput = true, RedirectStandardError = true };
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
            throw new TimeoutException($"{script} did not finish within {timeout.TotalSeconds:0} s: {await errors}");
        }
        Assert.True(node.ExitCode == 0, $"{script} exited {node.ExitCode}: {await errors}");
        return JsonDocument.Parse((await output).Trim().Split('\n')[^1]).RootElement.Clone();
    }
}
