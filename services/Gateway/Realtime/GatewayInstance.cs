namespace Platform.Gateway.Realtime;

/// <summary>This Gateway process's identity on the bus: names its own queues and its heartbeats.</summary>
public sealed class GatewayInstance
{
    public string Id { get; } = $"{Environment.MachineName}-{Guid.NewGuid():N}"[..Math.Min(40, Environment.MachineName.Length + 33)].ToLowerInvariant();
}
