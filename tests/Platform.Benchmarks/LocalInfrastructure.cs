using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Platform.Benchmarks;

/// <summary>PostgreSQL and RabbitMQ for one benchmark run, with production durability, stopped afterwards.</summary>
internal sealed class LocalInfrastructure : IAsyncDisposable
{
    private readonly string _folder;
    private readonly PosixSignalRegistration[] _signals;

    private LocalInfrastructure(string folder)
    {
        _folder = folder;
        // Stopped or interrupted (kill, Ctrl+C, a closed terminal), the harness takes down what it started, as a run that
        // ends does: else the services, the bare hub, the Node clients and both servers went on using the cores and the
        // ports, and the next run on the same folder collided with them.
        _signals = [.. new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGHUP }.Select(signal => PosixSignalRegistration.Create(signal, _ => StopEverything()))];
    }

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The servers' folder (data, logs, pid files).</summary>
    public string Folder => _folder;

    /// <param name="folder">Under <c>.local/</c>: <c>bench</c> for the benchmarks; the fault campaign has its own, so it kills only its own servers.</param>
    public static async Task<LocalInfrastructure> StartAsync(string folder = "bench")
    {
        folder = Path.Combine(RepositoryRoot, ".local", folder);
        Directory.CreateDirectory(folder);
        await Run("start", folder);
        foreach (var line in await File.ReadAllLinesAsync(Path.Combine(folder, "infra.env")))
        {
            var assignment = line.Replace("export ", "").Split('=', 2);
            if (assignment.Length == 2)
                Environment.SetEnvironmentVariable(assignment[0], assignment[1].Trim('"'));
        }
        Environment.SetEnvironmentVariable("PLATFORM_TEST_POSTGRES", Environment.GetEnvironmentVariable("PLATFORM_POSTGRES_CONNECTION"));
        Environment.SetEnvironmentVariable("PLATFORM_TEST_RABBITMQ", Environment.GetEnvironmentVariable("PLATFORM_RABBITMQ_URI"));
        Environment.SetEnvironmentVariable("PLATFORM_TEST_RABBITMQ_MANAGEMENT", Environment.GetEnvironmentVariable("PLATFORM_RABBITMQ_MANAGEMENT_URI"));
        return new LocalInfrastructure(folder);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var signal in _signals)
            signal.Dispose();
        await Run("stop", _folder);
    }

    // Every process the harness started is its descendant; the servers detach (infra.sh starts them as daemons), so they
    // are stopped by their folder. Then the harness ends itself: its loopback web hosts also handle these signals, by
    // stopping only themselves and leaving the run to go on (it did, against services no longer there).
    private void StopEverything()
    {
        Console.Error.WriteLine("bench: interrupted; stopping the processes it started and the servers");
        foreach (var pid in ProcessUsage.WithDescendants([Environment.ProcessId]).Where(pid => pid != Environment.ProcessId))
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
            }
            catch (Exception exception) when (exception is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Gone already.
            }
        try
        {
            Run("stop", _folder).Wait(TimeSpan.FromSeconds(60));
        }
        catch (AggregateException exception)
        {
            Console.Error.WriteLine($"bench: stopping the servers failed: {exception.InnerException?.Message}; run scripts/infra.sh stop {_folder}");
        }
        Process.GetCurrentProcess().Kill();
    }

    /// <summary>kill -9 of the broker's Erlang VM (the pid RabbitMQ wrote), as a crash or an OOM kill would end it.</summary>
    public void KillRabbitMq()
    {
        var pid = int.Parse(File.ReadAllText(Path.Combine(_folder, "rabbitmq", "rabbitmq.pid")).Trim());
        Process.GetProcessById(pid).Kill();
    }

    /// <summary>Starts RabbitMQ again on its ports with its data (after cleaning up what a killed node leaves: its epmd, helpers).</summary>
    public Task RestartRabbitMqAsync() => Run("restart-rabbitmq", _folder);

    /// <summary><c>pg_ctl -m fast stop</c>: sessions are ended, in-flight transactions roll back.</summary>
    public Task StopPostgresAsync() => Run("stop-postgres", _folder);

    /// <summary>Starts PostgreSQL again on its port (the running RabbitMQ is reused).</summary>
    public Task StartPostgresAsync() => Run("start", _folder);

    private static async Task Run(string command, string folder)
    {
        using var process = Process.Start(new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot, "scripts", "infra.sh"), command, folder])
        {
            RedirectStandardOutput = true,
        })!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"scripts/infra.sh {command} failed with {process.ExitCode}");
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Platform.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Run the harness from the repository.");
    }
}
