using System.Net;
using System.Text.Json;

namespace Platform.Testing;

/// <summary>
/// A host is ready (<c>/health/ready</c> answers 200) before it reaches the broker; a test that publishes right away
/// would publish before the host's queues are bound, and RabbitMQ drops a message no queue is bound for. Tests that
/// feed a host through the bus wait for this instead: ready, with the <c>rabbitmq</c> check healthy (connected, every
/// receive endpoint started).
/// </summary>
public static class Readiness
{
    public static Task WaitUntilConsumingAsync(HttpClient client, string service, TimeSpan? timeout = null) =>
        Eventually.Returns(() => IsConsumingAsync(client), consuming => consuming, timeout ?? TimeSpan.FromSeconds(30),
            $"{service} is ready and consuming");

    public static async Task<bool> IsConsumingAsync(HttpClient client)
    {
        try
        {
            using var response = await client.GetAsync("/health/ready");
            if (response.StatusCode != HttpStatusCode.OK)
                return false;
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return !body.RootElement.GetProperty("checks").TryGetProperty("rabbitmq", out var bus)
                || bus.GetProperty("status").GetString() == "Healthy";
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }
}
