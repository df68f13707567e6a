using System.Net;
using System.Net.Sockets;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace Platform.Testing;

/// <summary>Where the test run's PostgreSQL and RabbitMQ servers are: one of each per test run.</summary>
/// <param name="PostgresConnectionString">A superuser connection to the server's <c>postgres</c> database.</param>
/// <param name="RabbitMq">The broker's AMQP address with credentials, without a virtual host.</param>
/// <param name="RabbitMqManagement">The management HTTP API's address with credentials.</param>
public sealed record InfrastructureEndpoints(string PostgresConnectionString, Uri RabbitMq, Uri RabbitMqManagement);

/// <summary>
/// Finds the servers the test command started (<c>PLATFORM_TEST_POSTGRES</c>, <c>PLATFORM_TEST_RABBITMQ</c>,
/// <c>PLATFORM_TEST_RABBITMQ_MANAGEMENT</c>), or starts containers when <c>PLATFORM_TEST_INFRA=containers</c>.
/// </summary>
public static class TestInfrastructure
{
    public const string HowToStart =
        "Run the tests with `./platform test`, which starts PostgreSQL and RabbitMQ on free ports and passes their addresses in; " +
        "or start them yourself (`scripts/infra.sh start .local/test`, then `source .local/test/infra.env`) and set PLATFORM_TEST_POSTGRES, " +
        "PLATFORM_TEST_RABBITMQ and PLATFORM_TEST_RABBITMQ_MANAGEMENT; or set PLATFORM_TEST_INFRA=containers where a Docker engine can pull images.";

    private static readonly Lazy<Task<InfrastructureEndpoints>> Endpoints = new(ResolveAsync);

    public static Task<InfrastructureEndpoints> GetAsync() => Endpoints.Value;

    /// <summary>The repository's root folder (where Platform.sln is), found from the test's build output.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Platform.sln")))
                root = root.Parent;
            return root?.FullName ?? throw new InvalidOperationException($"Cannot find Platform.sln above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>
    /// A loopback port where nothing listens, for a service to bind (or for tests of a server being down). Chosen below
    /// the kernel's ephemeral range: a port the kernel handed out (what binding port 0 returns) can be taken by any
    /// outgoing connection before the service binds it, and with test projects running side by side, each opening
    /// hundreds of connections, that happened ("address already in use"). Ports handed out here are not handed out again
    /// by this process.
    /// </summary>
    public static int UnusedPort()
    {
        var below = EphemeralPortsStart.Value;
        for (var attempt = 0; below > 12_000 && attempt < 500; attempt++)
        {
            var port = Random.Shared.Next(below - 11_000, below - 1_000);
            if (!HandedOut.TryAdd(port, 0))
                continue;
            try
            {
                using var candidate = new TcpListener(IPAddress.Loopback, port);
                candidate.Start();
                return port;
            }
            catch (SocketException)
            {
                // Someone listens there: another.
            }
        }
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, byte> HandedOut = new();

    // The first port of the range the kernel picks outgoing connections' ports from (32768 on Linux by default).
    private static readonly Lazy<int> EphemeralPortsStart = new(() =>
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    });

    private static Task<InfrastructureEndpoints> ResolveAsync()
    {
        var mode = Environment.GetEnvironmentVariable("PLATFORM_TEST_INFRA") ?? "local";
        return mode switch
        {
            "containers" => StartContainersAsync(),
            "local" => Task.FromResult(FromEnvironment()),
            _ => throw new InvalidOperationException($"PLATFORM_TEST_INFRA must be 'local' or 'containers', not '{mode}'."),
        };
    }

    private static InfrastructureEndpoints FromEnvironment()
    {
        var postgres = Environment.GetEnvironmentVariable("PLATFORM_TEST_POSTGRES");
        var rabbit = Environment.GetEnvironmentVariable("PLATFORM_TEST_RABBITMQ");
        var management = Environment.GetEnvironmentVariable("PLATFORM_TEST_RABBITMQ_MANAGEMENT");
        if (string.IsNullOrWhiteSpace(postgres) || string.IsNullOrWhiteSpace(rabbit) || string.IsNullOrWhiteSpace(management))
            throw new InvalidOperationException("The test servers' addresses are not set. " + HowToStart);
        return new InfrastructureEndpoints(postgres, new Uri(rabbit), new Uri(management));
    }

    private static async Task<InfrastructureEndpoints> StartContainersAsync()
    {
        const string user = "platform", password = "platform";
        var postgres = new PostgreSqlBuilder("postgres:15-alpine")
            .WithUsername(user).WithPassword(password).WithDatabase("postgres")
            .Build();
        var rabbit = new RabbitMqBuilder("rabbitmq:3.13-management-alpine")
            .WithUsername(user).WithPassword(password)
            .WithPortBinding(15672, assignRandomHostPort: true)
            .Build();
        await Task.WhenAll(postgres.StartAsync(), rabbit.StartAsync());

        var amqp = new UriBuilder(rabbit.GetConnectionString()) { Path = "/" }.Uri;
        var http = new Uri($"http://{user}:{password}@{rabbit.Hostname}:{rabbit.GetMappedPublicPort(15672)}/");
        return new InfrastructureEndpoints(postgres.GetConnectionString(), amqp, http);
    }
}
