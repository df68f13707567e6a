using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Platform.Contracts.Messaging;
using Platform.Testing;

namespace Platform.Media.Tests;

/// <summary>Media in-process on a fresh database, vhost and storage folder, with a token issuer standing in for Identity.</summary>
public class MediaHost() : ServiceHost<Program>("Media")
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "media-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public string BlobPath => Path.Combine(Root, "blobs");

    public string StagingPath => Path.Combine(Root, "staging");

    /// <summary>Records the <c>MediaReady</c> events Media publishes, and publishes conversation events as Messaging would.</summary>
    public BusProbe<Contracts.Media.MediaReady> Bus { get; private set; } = null!;

    private long _seq;

    protected override bool ControlsTime => true;

    protected override void Configure(ServiceFactory<Program> factory) => factory
        .WithSetting("Media:SigningKey", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)))
        .WithSetting("Media:Storage:Path", BlobPath)
        .WithSetting("Media:StagingPath", StagingPath)
        .WithSetting("Media:MaxBytesByType:text/plain", "100000");

    protected override async Task StartedAsync() =>
        Bus = Own(await BusProbe<Contracts.Media.MediaReady>.StartAsync(Infrastructure.VirtualHost.ConnectionString));

    public MediaClient Client(Guid? userId = null)
    {
        var user = userId ?? Guid.CreateVersion7();
        var noRedirects = new WebApplicationFactoryClientOptions { AllowAutoRedirect = false };
        return new MediaClient(user, UserClient(user, options: noRedirects), Factory.CreateClient(noRedirects));
    }

    /// <summary>Publishes one conversation event, as Messaging's outbox does.</summary>
    public Task PublishAsync(Guid conversationId, string type, Guid actorId, object data) =>
        Bus.PublishAsync(new ConversationEvent
        {
            EventId = Guid.NewGuid(),
            ConversationId = conversationId,
            Seq = Interlocked.Increment(ref _seq),
            Type = type,
            OccurredAt = DateTimeOffset.UtcNow,
            ActorId = actorId,
            Data = JsonSerializer.SerializeToElement(data, Json),
        });

    public Task CreateConversationAsync(Guid conversationId, Guid owner, params Guid[] members) =>
        PublishAsync(conversationId, ConversationEventTypes.ConversationCreated, owner, new
        {
            id = conversationId,
            kind = "group",
            members = new[] { owner }.Concat(members).Select(m => new { userId = m, role = m == owner ? "owner" : "member" }),
        });

    /// <summary>Files under the blob store, temp files excluded.</summary>
    public IReadOnlyList<string> StoredBlobs() =>
        Directory.Exists(BlobPath) ? Directory.GetFiles(BlobPath, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/.tmp/")).ToList() : [];

    public IReadOnlyList<string> StagedFiles() =>
        Directory.Exists(StagingPath) ? Directory.GetFiles(StagingPath) : [];

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(Root))
            Directory.Delete(Root, recursive: true);
    }
}

/// <summary>One signed-in user; <see cref="Anonymous"/> follows signed URLs without a token, as a browser element would.</summary>
public sealed class MediaClient(Guid userId, HttpClient http, HttpClient anonymous)
{
    public Guid UserId { get; } = userId;

    public HttpClient Http { get; } = http;

    public HttpClient Anonymous { get; } = anonymous;

    public async Task<HttpResponseMessage> UploadAsync(byte[] bytes, string? fileName = "file.bin", string declaredType = "application/octet-stream")
    {
        using var content = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(declaredType);
        content.Add(file, "file");
        // RFC 5987 encoding carries any name, control characters included, as a hostile client would send it.
        if (fileName is not null)
            file.Headers.ContentDisposition = fileName.All(c => c is >= ' ' and <= '~' and not '"')
                ? new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileName = $"\"{fileName}\"" }
                : new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileNameStar = fileName };
        return await Http.PostAsync("/api/v1/media", content);
    }

    public async Task<JsonElement> UploadOkAsync(byte[] bytes, string fileName = "file.bin")
    {
        var response = await UploadAsync(bytes, fileName);
        return await Json(response, 201);
    }

    /// <summary>Follows the authenticated redirect to the signed URL and fetches it without a token.</summary>
    public async Task<HttpResponseMessage> DownloadAsync(string path, Action<HttpRequestMessage>? configure = null)
    {
        var redirect = await Http.GetAsync(path);
        if (redirect.StatusCode != System.Net.HttpStatusCode.Redirect)
            return redirect;
        var request = new HttpRequestMessage(HttpMethod.Get, redirect.Headers.Location);
        configure?.Invoke(request);
        return await Anonymous.SendAsync(request);
    }

    public static async Task<JsonElement> Json(HttpResponseMessage response, int status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode} {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    public async Task<JsonElement> PostJsonAsync(string path, object body, int status) =>
        await Json(await Http.PostAsJsonAsync(path, body, MediaHost.Json), status);
}
