// The benchmark harness. Scenarios so far:
//   send-to-publish  one sender, open loop at --rate messages/s for --messages messages: how long from the HTTP send
//                    until the event is consumed from RabbitMQ, and until the sender's 201.
// Run: dotnet run -c Release --project tests/Platform.Benchmarks -- send-to-publish [--rate 100] [--messages 2000]
// It starts its own PostgreSQL (durability on) and RabbitMQ with scripts/infra.sh, and Messaging as a process.
using System.Diagnostics;
using Platform.Benchmarks;

var arguments = Arguments.Parse(args);
if (arguments.Scenario != "send-to-publish")
{
    Console.Error.WriteLine("usage: Platform.Benchmarks send-to-publish [--rate N] [--messages N] [--warmup N]");
    return 2;
}

await using var infrastructure = await LocalInfrastructure.StartAsync();
var report = await SendToPublish.RunAsync(arguments);
Console.WriteLine(report);
var path = Path.Combine(LocalInfrastructure.RepositoryRoot, ".local", "bench", $"send-to-publish-{DateTime.UtcNow:yyyyMMddHHmmss}.md");
await File.WriteAllTextAsync(path, report);
Console.WriteLine($"Report: {path}");
return 0;

namespace Platform.Benchmarks
{
    internal sealed record Arguments(string Scenario, int Rate, int Messages, int Warmup)
    {
        public static Arguments Parse(string[] args)
        {
            string Option(string name, string fallback)
            {
                var index = Array.IndexOf(args, name);
                return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
            }
            return new Arguments(args.FirstOrDefault() ?? "", int.Parse(Option("--rate", "100")), int.Parse(Option("--messages", "2000")), int.Parse(Option("--warmup", "200")));
        }
    }

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
}
