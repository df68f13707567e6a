using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Platform.Gateway.Realtime;

/// <summary>Presence's HTTP API, called on behalf of a connected user with that user's access token.</summary>
public sealed class PresenceClient(HttpClient http)
{
    private sealed record Page(List<JsonElement> Items);

    /// <summary>The users' presence as the caller may see it (<c>unknown</c> for users the caller may not see).</summary>
    public async Task<IReadOnlyList<JsonElement>> GetAsync(string token, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/presence/query") { Content = JsonContent.Create(new { userIds }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        var page = await response.Content.ReadFromJsonAsync<Page>(JsonSerializerOptions.Web, cancellationToken);
        return page?.Items ?? [];
    }
}
