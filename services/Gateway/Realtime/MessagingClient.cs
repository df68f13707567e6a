using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Platform.Contracts.Messaging;

namespace Platform.Gateway.Realtime;

/// <summary>Messaging's HTTP API, called on behalf of a connected user with that user's access token.</summary>
public sealed class MessagingClient(HttpClient http)
{
    public sealed record Joined(Guid Id, long LastSeq);

    private sealed record Page<T>(List<T> Items, string? Next);

    public async Task<IReadOnlyList<Joined>> JoinedAsync(string token, CancellationToken cancellationToken)
    {
        var joined = new List<Joined>();
        string? after = null;
        do
        {
            var page = await GetAsync<Page<Joined>>(token, $"api/v1/conversations/joined?limit=1000{(after is null ? "" : "&after=" + after)}", cancellationToken)
                ?? throw new InvalidOperationException("Messaging answered 404 for the joined conversations.");
            joined.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null);
        return joined;
    }

    /// <summary>Whether the user is an active member (Messaging answers 404 otherwise).</summary>
    public async Task<bool> IsMemberAsync(string token, Guid conversationId, CancellationToken cancellationToken) =>
        await GetAsync<JsonElement?>(token, $"api/v1/conversations/{conversationId}", cancellationToken) is not null;

    /// <summary>Who is in a call and who is still being rung (<c>GET /api/v1/calls/{id}</c>).</summary>
    public sealed record CallParticipants(Guid Id, string State, List<Guid> Joined, List<Guid> Ringing);

    /// <summary>The call as the user may see it; null when there is no such call or the user is not a member of its conversation.</summary>
    public Task<CallParticipants?> GetCallAsync(string token, Guid callId, CancellationToken cancellationToken) =>
        GetAsync<CallParticipants>(token, $"api/v1/calls/{callId}", cancellationToken);

    /// <summary>A page of the log after <paramref name="after"/>; null when the user may not read it.</summary>
    public async Task<LogPage?> EventsAsync(string token, Guid conversationId, long after, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/v1/conversations/{conversationId}/events?after={after}&limit=500");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        response.EnsureSuccessStatusCode();
        var page = await response.Content.ReadFromJsonAsync<Page<JsonElement>>(JsonSerializerOptions.Web, cancellationToken)
            ?? throw new InvalidOperationException("Messaging answered an empty page.");
        var sameForEveryMember = response.Headers.TryGetValues(ConversationLogHeaders.SameForEveryMember, out var values) && values.Contains("true");
        return new LogPage(page.Items, page.Next is not null, sameForEveryMember);
    }

    private async Task<T?> GetAsync<T>(string token, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return default;
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<T>(JsonSerializerOptions.Web, cancellationToken);
    }
}

/// <summary>
/// A page of a conversation's log as Messaging answered it; <see cref="SameForEveryMember"/> when any active member
/// would have read the same (see <see cref="ConversationLogHeaders.SameForEveryMember"/>).
/// </summary>
public sealed record LogPage(IReadOnlyList<JsonElement> Items, bool More, bool SameForEveryMember)
{
    private IReadOnlyList<(long Seq, SerializedHubMessage Message)>? _messages;

    /// <summary>The items as hub <c>event</c> messages, each serialized once however many connections the page goes to.</summary>
    public IReadOnlyList<(long Seq, SerializedHubMessage Message)> Messages => _messages ??= Items
        .Select(item => (item.GetProperty("seq").GetInt64(), new SerializedHubMessage(new InvocationMessage(HubMethods.Event, [HubEnvelopes.FromLog(item)]))))
        .ToList();
}
