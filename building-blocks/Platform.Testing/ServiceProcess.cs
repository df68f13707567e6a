using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Platform.Testing;

/// <summary>
/// A service running as its own operating-system process from its build output, on a free loopback port:
/// for tests that need several services (or several instances of one) over real HTTP, and for crash and
/// restart tests. The test project must build the service: reference its project with
/// <c>ReferenceOutputAssembly="false"</c>.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly string _service;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <summary>The service's address, e.g. <c>http://127.0.0.1:41234/</c>; it stays the same across restarts.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The operating-system process id while it runs (for resource measurements).</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>What the process wrote to stdout and stderr (the last 200 KB), for failure messages.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    private ServiceProcess(string service, IReadOnlyDictionary<string, string?> settings, int port)
    {
        _service = service;
        _settings = settings;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    /// <param name="service">The folder name under <c>services/</c>, e.g. <c>Gateway</c>.</param>
    /// <param name="settings">Configuration keys (<c>ConnectionStrings:Postgres</c>) and values, passed as environment variables.</param>
    /// <param name="waitUntilReady">Wait for <c>/health/ready</c> and, unless <paramref name="waitForBroker"/> is false, for its
    /// broker connection with every receive endpoint started (<see cref="Readiness"/>); otherwise only for <c>/health/live</c>.</param>
    /// <param name="waitForBroker">False for a service started while its broker is meant to be unreachable.</param>
    /// <param name="port">A port chosen beforehand (e.g. with <see cref="TestInfrastructure.UnusedPort"/>), for services
    /// that must know each other's address before either starts; a free port when null.</param>
    public static async Task<ServiceProcess> StartAsync(
        string service, IReadOnlyDictionary<string, string?> settings, bool waitUntilReady = true, int? port = null, bool waitForBroker = true)
    {
        var process = new ServiceProcess(service, settings, port ?? TestInfrastructure.UnusedPort());
        try
        {
            await process.StartAsync(waitUntilReady, waitForBroker);
        }
        catch
        {
            // The caller never gets hold of a process that did not become ready: stop it here, or it outlives the tests.
            await process.DisposeAsync();
            throw;
        }
        return process;
    }

    public async Task StartAsync(bool waitUntilReady = true, bool waitForBroker = true)
    {
        if (_process is { HasExited: false })
            throw new InvalidOperationException($"{_service} is already running.");

        var assembly = LocateAssembly(_service);
        var info = new ProcessStartInfo("dotnet", [assembly])
        {
            // The content root: the service reads its own appsettings.json, not whatever the test's folder holds.
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["ASPNETCORE_URLS"] = BaseAddress.ToString().TrimEnd('/');
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        info.Environment["DOTNET_ENVIRONMENT"] = "Testing";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in _settings)
            info.Environment[key.Replace(":", "__")] = value;

        _process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {_service}.");
        _process.OutputDataReceived += (_, line) => Append(line.Data);
        _process.ErrorDataReceived += (_, line) => Append(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var path = waitUntilReady ? "/health/ready" : "/health/live";
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{_service} exited with code {_process.ExitCode} while starting:\n{Output}");
            try
            {
                if (waitUntilReady && waitForBroker ? await Readiness.IsConsumingAsync(http) : (await http.GetAsync(path)).IsSuccessStatusCode)
                    return;
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{_service} did not answer {path} with 200{(waitUntilReady && waitForBroker ? " and its broker connected" : "")} within 60 s:\n{Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>Asks the process to stop (SIGTERM) and waits for its graceful shutdown.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
            return;
        if (SendTerminate(process.Id) != 0)
            process.Kill(entireProcessTree: true);
        await WaitForExitAsync();
    }

    /// <summary>Sends SIGTERM and returns at once: the test watches the graceful shutdown (then <see cref="WaitForExitAsync"/>).</summary>
    public void BeginStop()
    {
        if (_process is { HasExited: false } process && SendTerminate(process.Id) != 0)
            process.Kill(entireProcessTree: true);
    }

    /// <summary>Waits up to 30 s for the process to end, then kills it.</summary>
    public async Task WaitForExitAsync()
    {
        if (_process is not { } process)
            return;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Kills the process at once (SIGKILL), as a crash would: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process)
            return;
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>Stops the process; disposing again does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        _process = null;
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
        {
            _output.AppendLine(line);
            if (_output.Length > 200_000)
                _output.Remove(0, _output.Length - 150_000);
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static int SendTerminate(int pid) => OperatingSystem.IsWindows() ? -1 : Kill(pid, 15);

    /// <summary>The service's build output matching the test assembly's configuration (Debug or Release).</summary>
    private static string LocateAssembly(string service)
    {
        var testOutput = AppContext.BaseDirectory;
        var root = new DirectoryInfo(testOutput);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Platform.sln")))
            root = root.Parent;
        if (root is null)
            throw new InvalidOperationException($"Cannot find Platform.sln above {testOutput}.");

        var configuration = testOutput.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var assembly = Path.Combine(root.FullName, "services", service, "bin", configuration, "net10.0", service + ".dll");
        if (!File.Exists(assembly))
            throw new InvalidOperationException(
                $"{assembly} does not exist. Reference services/{service}/{service}.csproj from the test project with ReferenceOutputAssembly=\"false\" so it is built.");
        return assembly;
    }
}
