namespace Platform.Contracts.Gateway;

/// <summary>
/// A WebRTC signaling message (SDP offer or answer, ICE candidate, or the application's own) from one participant of
/// a call to another, relayed by whichever Gateway instance the recipient is connected to. Never stored.
/// </summary>
public sealed record CallSignal
{
    public required Guid CallId { get; init; }

    public required Guid FromUserId { get; init; }

    public required Guid ToUserId { get; init; }

    /// <summary>The payload as JSON text: an object or a string, already checked and size-capped by the sending instance.</summary>
    public required string Payload { get; init; }

    public required string InstanceId { get; init; }

    public required DateTimeOffset SentAt { get; init; }

    /// <summary>A signal still on the way after this is dropped: the negotiation it belonged to has given up.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}
