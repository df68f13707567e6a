using System.Diagnostics;

namespace Platform.Benchmarks;

/// <summary>PostgreSQL and RabbitMQ for one benchmark run, with production durability, stopped afterwards.</summary>
internal sealed class LocalInfrastructure : IAsyncDisposable
{
    private readonly string _folder;

    private LocalInfrastructure(string folder) => _folder = folder;

    public static string RepositoryRoot { get; } = FindRoot();

    public static async Task<LocalInfrastructure> StartAsync()
    {
        var folder = Path.Combine(RepositoryRoot, ".local", "bench");
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

    public async ValueTask DisposeAsync() => await Run("stop", _folder);

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
