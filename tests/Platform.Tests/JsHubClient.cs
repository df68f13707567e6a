using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Tests;

/// <summary>
/// The official JavaScript SignalR client (<c>@microsoft/signalr</c>) connected to a Gateway's hub, run by Node from
/// <c>tests/js-client/hub-client.js</c>: what the hub sends arrives as JSON lines on its stdout, hub methods are invoked
/// through its stdin.
/// </summary>
public sealed class JsHubClient : IAsyncDisposable
{
    private readonly Process _node;
    private readonly string _name;
    private readonly Func<string> _context;
    private readonly List<JsonElement> _lines = [];
    private readonly StringBuilder _errors = new();
    private int _lastId;

    private JsHubClient(Process node, string name, Func<string> context)
    {
        _node = node;
        _name = name;
        _context = context;
        _node.OutputDataReceived += (_, line) => Received(line.Data);
        _node.ErrorDataReceived += (_, line) => { lock (_errors) _errors.AppendLine(line.Data); };
        _node.BeginOutputReadLine();
        _node.BeginErrorReadLine();
    }

    /// <summary>Starts the client and waits until it is connected.</summary>
    /// <param name="context">What to add to a failure message, e.g. the Gateway's output.</param>
    public static async Task<JsHubClient> ConnectAsync(Uri gateway, string token, string name, Func<string> context)
    {
        var info = new ProcessStartInfo("node", [Path.Combine(ScriptFolder(), "hub-client.js")])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["GATEWAY"] = gateway.ToString();
        info.Environment["TOKEN"] = token;
        var client = new JsHubClient(Process.Start(info) ?? throw new InvalidOperationException("Could not start node."), name, context);
        try
        {
            await client.LineAsync(line => line.TryGetProperty("ready", out _), "connects to the hub");
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
        return client;
    }

    /// <summary>The arguments of every call of the client method <paramref name="method"/> (<c>event</c>, <c>receipt</c>, ...) so far, in arrival order.</summary>
    public IReadOnlyList<JsonElement> Calls(string method)
    {
        lock (_lines)
            return _lines.Where(line => line.TryGetProperty("on", out var on) && on.GetString() == method).Select(line => line.GetProperty("arg")).ToList();
    }

    /// <summary>Awaits a call of <paramref name="method"/> whose argument matches (one that came already counts).</summary>
    public async Task<JsonElement> NextAsync(string method, Func<JsonElement, bool> match, string because) =>
        (await LineAsync(line => line.TryGetProperty("on", out var on) && on.GetString() == method && match(line.GetProperty("arg")), because)).GetProperty("arg");

    /// <summary>Awaits the end of the connection (closed by the server); answers the reason the client was given.</summary>
    public async Task<string> ClosedAsync(string because) =>
        (await LineAsync(line => line.TryGetProperty("closed", out _), because)).GetProperty("closed").GetString()!;

    /// <summary>Invokes a hub method; answers its result, or fails with the hub's error.</summary>
    public async Task<JsonElement> InvokeAsync(string method, params object?[] args)
    {
        var id = Interlocked.Increment(ref _lastId);
        await _node.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new { id, invoke = method, args }));
        await _node.StandardInput.FlushAsync();
        var answer = await LineAsync(line => line.TryGetProperty("id", out var answered) && answered.GetInt32() == id, $"{method} answers");
        if (answer.TryGetProperty("error", out var error))
            throw new InvalidOperationException($"{_name}: {method} failed: {error.GetString()}\n{Diagnostics()}");
        return answer.GetProperty("result");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_node.HasExited)
        {
            try
            {
                _node.StandardInput.Close(); // the script stops the connection and exits
                await _node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception exception) when (exception is TimeoutException or IOException)
            {
                _node.Kill(entireProcessTree: true);
                await _node.WaitForExitAsync();
            }
        }
        _node.Dispose();
    }

    private async Task<JsonElement> LineAsync(Func<JsonElement, bool> match, string because)
    {
        JsonElement? Find()
        {
            lock (_lines)
                return _lines.Where(match).Select(line => (JsonElement?)line).FirstOrDefault();
        }
        JsonElement? found;
        try
        {
            found = await Eventually.Returns(() => Task.FromResult(Find()), line => line is not null || _node.HasExited, WholePlatform.Soon, $"{_name} {because}");
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message}\n{Diagnostics()}", timeout);
        }
        // Lines still in the pipe when the process ended count too.
        return found ?? Find() ?? throw new InvalidOperationException($"{_name}: node exited with {_node.ExitCode} before it {because}.\n{Diagnostics()}");
    }

    private void Received(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
            return;
        try
        {
            var parsed = JsonDocument.Parse(line).RootElement.Clone();
            lock (_lines)
                _lines.Add(parsed);
        }
        catch (JsonException)
        {
            lock (_errors)
                _errors.AppendLine(line);
        }
    }

    private string Diagnostics()
    {
        string errors;
        lock (_errors)
            errors = _errors.ToString();
        int received;
        lock (_lines)
            received = _lines.Count;
        return $"--- {_name}: {received} lines received; node's stderr ---\n{errors}{_context()}";
    }

    private static string ScriptFolder()
    {
        var folder = Path.Combine(TestInfrastructure.RepositoryRoot, "tests", "js-client");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "@microsoft", "signalr")))
            throw new InvalidOperationException("Run `npm ci --prefix tests/js-client` first (./platform test does).");
        return folder;
    }
}
