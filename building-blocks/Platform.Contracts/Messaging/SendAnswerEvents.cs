using System.Text.Json;

namespace Platform.Contracts.Messaging;

/// <summary>
/// How Messaging hands the events a send committed back to the Gateway that forwarded the send, so that the Gateway
/// pushes them to its own connections as soon as the send is answered, not only once the bus brings them (it still
/// does: the Gateway drops the second copy by seq). Between services only: the Gateway asks with
/// <see cref="RequestHeader"/> and takes <see cref="ResponseHeader"/> out of the answer before it goes to the client.
/// </summary>
public static class SendAnswerEvents
{
    /// <summary>On a send forwarded by the Gateway: put the committed events in the answer.</summary>
    public const string RequestHeader = "Platform-Return-Events";

    /// <summary>The committed events, <see cref="ConversationEvent"/>s as a JSON array, in base64.</summary>
    public const string ResponseHeader = "Platform-Committed-Events";

    /// <summary>Larger encodings are not sent (a long text with many files): the bus alone brings those events.</summary>
    public const int MaxEncodedLength = 16 * 1024;

    /// <summary>The header's value, or null when there is nothing to send or it would be longer than <see cref="MaxEncodedLength"/>.</summary>
    public static string? Encode(IReadOnlyList<ConversationEvent> events)
    {
        if (events.Count == 0)
            return null;
        var json = JsonSerializer.SerializeToUtf8Bytes(events, JsonSerializerOptions.Web);
        return Base64EncodedLength(json.Length) > MaxEncodedLength ? null : Convert.ToBase64String(json);
    }

    /// <summary>The events of a header written by <see cref="Encode"/>; empty when the value is not one.</summary>
    public static IReadOnlyList<ConversationEvent> Decode(string value)
    {
        if (value.Length is 0 or > MaxEncodedLength)
            return [];
        var json = new byte[value.Length / 4 * 3];
        if (!Convert.TryFromBase64String(value, json, out var written))
            return [];
        try
        {
            return JsonSerializer.Deserialize<ConversationEvent[]>(json.AsSpan(0, written), JsonSerializerOptions.Web) ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static int Base64EncodedLength(int bytes) => (bytes + 2) / 3 * 4;
}
