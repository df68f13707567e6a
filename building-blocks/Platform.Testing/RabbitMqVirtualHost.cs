using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Xunit;

namespace Platform.Testing;

/// <summary>A fresh virtual host on the test run's RabbitMQ server, deleted afterwards with its queues and exchanges.</summary>
public sealed class RabbitMqVirtualHost : IAsyncLifetime
{
    private HttpClient? _management;

    public string Name { get; } = "test-" + Guid.NewGuid().ToString("N")[..20];

    /// <summary>The <c>amqp://</c> URI of this virtual host, the form <c>ConnectionStrings:RabbitMq</c> takes.</summary>
    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var endpoints = await TestInfrastructure.GetAsync();
        var management = endpoints.RabbitMqManagement;
        _management = new HttpClient { BaseAddress = new Uri(management.GetLeftPart(UriPartial.Authority)), Timeout = TimeSpan.FromSeconds(30) };
        var credentials = Uri.UnescapeDataString(management.UserInfo);
        _management.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));

        try
        {
            (await _management.PutAsync($"api/vhosts/{Name}", null)).EnsureSuccessStatusCode();
        }
        catch (HttpRequestException exception)
        {
            throw new InvalidOperationException(
                $"Cannot reach the test RabbitMQ management API ({_management.BaseAddress}): {exception.Message}. " + TestInfrastructure.HowToStart,
                exception);
        }

        var user = Uri.UnescapeDataString(credentials.Split(':')[0]);
        (await _management.PutAsJsonAsync($"api/permissions/{Name}/{Uri.EscapeDataString(user)}",
            new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();

        ConnectionString = new UriBuilder(endpoints.RabbitMq) { Path = "/" + Name }.Uri.ToString();
    }

    /// <summary>The queues of this virtual host, by name.</summary>
    public async Task<IReadOnlyList<string>> QueuesAsync()
    {
        var queues = await _management!.GetFromJsonAsync<System.Text.Json.JsonElement[]>($"api/queues/{Name}?columns=name");
        return queues!.Select(queue => queue.GetProperty("name").GetString()!).ToList();
    }

    /// <summary>
    /// The queues of this virtual host with their lifetime: temporary ones (not durable, auto-deleted or exclusive) go
    /// with the connection or consumer that made them, such as a Gateway instance's own queues.
    /// </summary>
    public async Task<IReadOnlyList<QueueInfo>> QueueDetailsAsync()
    {
        var queues = await _management!.GetFromJsonAsync<System.Text.Json.JsonElement[]>($"api/queues/{Name}?columns=name,durable,auto_delete,exclusive");
        return queues!.Select(queue => new QueueInfo(
            queue.GetProperty("name").GetString()!,
            queue.GetProperty("durable").GetBoolean(),
            queue.GetProperty("auto_delete").GetBoolean(),
            queue.TryGetProperty("exclusive", out var exclusive) && exclusive.ValueKind == System.Text.Json.JsonValueKind.True)).ToList();
    }

    /// <summary>
    /// The bodies of up to <paramref name="count"/> messages waiting in <paramref name="queue"/>, read and put back
    /// (unlike the queue's counts, which lag the broker by its statistics interval); none when the queue does not exist.
    /// </summary>
    public async Task<IReadOnlyList<string>> PeekAsync(string queue, int count = 100)
    {
        var response = await _management!.PostAsJsonAsync($"api/queues/{Name}/{Uri.EscapeDataString(queue)}/get",
            new { count, ackmode = "ack_requeue_true", encoding = "auto" });
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            return [];
        response.EnsureSuccessStatusCode();
        var messages = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement[]>();
        return messages!.Select(message => message.GetProperty("payload").GetString()!).ToList();
    }

    /// <summary>Every consumer of this virtual host: its queue and the client-given name of the connection it came on (which names the service).</summary>
    public async Task<IReadOnlyList<(string Queue, string Connection)>> ConsumersAsync()
    {
        var connections = (await _management!.GetFromJsonAsync<System.Text.Json.JsonElement[]>("api/connections?columns=name,user_provided_name,vhost"))!
            .Where(connection => connection.GetProperty("vhost").GetString() == Name)
            .ToDictionary(
                connection => connection.GetProperty("name").GetString()!,
                connection => connection.TryGetProperty("user_provided_name", out var given) ? given.GetString() ?? "" : "");
        var consumers = await _management!.GetFromJsonAsync<System.Text.Json.JsonElement[]>($"api/consumers/{Name}");
        return consumers!.Select(consumer => (
            consumer.GetProperty("queue").GetProperty("name").GetString()!,
            // Until the broker's statistics catch up, a consumer's channel details are an empty array.
            consumer.GetProperty("channel_details") is { ValueKind: System.Text.Json.JsonValueKind.Object } channel
                ? connections.GetValueOrDefault(channel.GetProperty("connection_name").GetString()!, "")
                : "")).ToList();
    }

    /// <summary>Binds exchange <paramref name="destination"/> to exchange <paramref name="source"/> with <paramref name="routingKey"/> (both must exist).</summary>
    public async Task BindExchangeAsync(string source, string destination, string routingKey) =>
        (await _management!.PostAsJsonAsync($"api/bindings/{Name}/e/{Uri.EscapeDataString(source)}/e/{Uri.EscapeDataString(destination)}",
            new { routing_key = routingKey })).EnsureSuccessStatusCode();

    /// <summary>The bindings whose destination is exchange <paramref name="destination"/>: each source exchange with its routing key.</summary>
    public async Task<IReadOnlyList<(string Source, string RoutingKey)>> BindingsToExchangeAsync(string destination)
    {
        var bindings = await _management!.GetFromJsonAsync<System.Text.Json.JsonElement[]>(
            $"api/exchanges/{Name}/{Uri.EscapeDataString(destination)}/bindings/destination");
        return bindings!.Select(binding => (binding.GetProperty("source").GetString()!, binding.GetProperty("routing_key").GetString()!)).ToList();
    }

    /// <summary>
    /// Removes the bindings from <paramref name="exchange"/> to the exchanges and queues <paramref name="cut"/> names, so
    /// that what is published to it meanwhile never reaches them (as if their consumers had missed it). Disposing the
    /// answer puts the same bindings back.
    /// </summary>
    public async Task<IAsyncDisposable> CutBindingsAsync(string exchange, Func<string, bool> cut)
    {
        var management = _management!;
        var bindings = await management.GetFromJsonAsync<System.Text.Json.JsonElement[]>(
            $"api/exchanges/{Name}/{Uri.EscapeDataString(exchange)}/bindings/source");
        var removed = bindings!.Where(binding => cut(binding.GetProperty("destination").GetString()!)).ToList();
        foreach (var binding in removed)
            (await management.DeleteAsync($"{BindingPath(binding)}/{Uri.EscapeDataString(binding.GetProperty("properties_key").GetString()!)}"))
                .EnsureSuccessStatusCode();
        return new RestoredBindings(async () =>
        {
            foreach (var binding in removed)
                (await management.PostAsJsonAsync(BindingPath(binding), new
                {
                    routing_key = binding.GetProperty("routing_key").GetString(),
                    arguments = binding.GetProperty("arguments"),
                })).EnsureSuccessStatusCode();
        });
    }

    private string BindingPath(System.Text.Json.JsonElement binding) =>
        $"api/bindings/{Name}/e/{Uri.EscapeDataString(binding.GetProperty("source").GetString()!)}/" +
        $"{(binding.GetProperty("destination_type").GetString() == "queue" ? "q" : "e")}/{Uri.EscapeDataString(binding.GetProperty("destination").GetString()!)}";

    private sealed class RestoredBindings(Func<Task> restore) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await restore();
    }

    public async Task DisposeAsync()
    {
        if (_management is null)
            return;
        if (ConnectionString.Length > 0)
            await _management.DeleteAsync($"api/vhosts/{Name}");
        _management.Dispose();
    }
}

/// <summary>A queue as the broker describes it.</summary>
public sealed record QueueInfo(string Name, bool Durable, bool AutoDelete, bool Exclusive)
{
    public bool Temporary => !Durable || AutoDelete || Exclusive;
}
