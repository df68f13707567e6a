using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>Messaging in-process on a fresh database and vhost, with a token issuer standing in for Identity.</summary>
public class MessagingHost() : ServiceHost<Program>("Messaging")
{
    public const string TurnSecret = "test-turn-secret-0123456789";

    protected override bool ControlsTime => true;

    protected override void Configure(ServiceFactory<Program> factory) => factory
        .WithSetting("Retention:Interval", "00:00:01")
        .WithSetting("Calls:SweepInterval", "00:00:01")
        .WithSetting("Calls:Ice:StunUrls:0", "stun:stun.test.example:3478")
        .WithSetting("Calls:Ice:TurnUrls:0", "turn:turn.test.example:3478?transport=udp")
        .WithSetting("Calls:Ice:TurnUrls:1", "turn:turn.test.example:3478?transport=tcp")
        .WithSetting("Calls:Ice:TurnSecret", TurnSecret)
        .WithSetting("Calls:Ice:CredentialLifetime", "01:00:00");

    public ChatClient Client(Guid? userId = null, string name = "User", params string[] roles)
    {
        var user = userId ?? Guid.CreateVersion7();
        return new ChatClient(user, UserClient(user, name, roles));
    }
}

/// <summary>One signed-in user talking to the API over HTTP.</summary>
public sealed class ChatClient(Guid userId, HttpClient http)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Guid UserId { get; } = userId;

    public HttpClient Http { get; } = http;

    public Task<HttpResponseMessage> Post(string path, object body) => Http.PostAsJsonAsync(path, body, Json);

    public Task<HttpResponseMessage> Patch(string path, object body) => Http.PatchAsJsonAsync(path, body, Json);

    public async Task<JsonElement> Json200(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> Get(string path) => await Json200(await Http.GetAsync(path));

    public async Task<Guid> CreateGroup(params Guid[] members) =>
        (await Json200(await Post("/api/v1/conversations", new { kind = "group", title = "Team", memberIds = members }))).GetProperty("id").GetGuid();

    public async Task<JsonElement> Send(Guid conversationId, string text, string? clientMessageId = null, Guid? replyTo = null) =>
        await Json200(await Post($"/api/v1/conversations/{conversationId}/messages",
            new { clientMessageId = clientMessageId ?? Guid.NewGuid().ToString(), text, replyTo }));
}
