using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Platform.Testing;

namespace Platform.Tests;

[CollectionDefinition(Name)]
public sealed class WholePlatformCollection : ICollectionFixture<WholePlatform>
{
    public const string Name = "whole platform";
}

/// <summary>A user signed in through a Gateway: the id, the access token, and an HTTP client for the API.</summary>
public sealed record User(Guid Id, string Username, string Token, HttpClient Http)
{
    /// <summary>What the user signs in with (and <see cref="WholePlatform.UserPassword"/>).</summary>
    public string Email { get; init; } = "";
}

/// <summary>
/// The six services as processes on ONE database and ONE vhost, as <c>./platform run</c> and Kubernetes run them, with
/// two Gateway instances. Tests talk only to the Gateways, over HTTP and the official JavaScript SignalR client.
/// </summary>
public sealed class WholePlatform : IAsyncLifetime
{
    public static readonly TimeSpan Soon = TimeSpan.FromSeconds(20);

    /// <summary>Every test user's password.</summary>
    public const string UserPassword = "correct horse battery staple";
    private readonly SocketsHttpHandler _handler = new() { AllowAutoRedirect = false };
    private PlatformProcesses? _platform;
    private WebApplication? _site;
    private bool _disposed;

    public PostgresDatabase Database { get; } = new();

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public ServiceProcess Identity { get; private set; } = null!;

    public ServiceProcess Messaging { get; private set; } = null!;

    public ServiceProcess Presence { get; private set; } = null!;

    public ServiceProcess Notifications { get; private set; } = null!;

    public ServiceProcess Media { get; private set; } = null!;

    public ServiceProcess Gateway1 { get; private set; } = null!;

    public ServiceProcess Gateway2 { get; private set; } = null!;

    /// <summary>The SMTP server Notifications sends mail to (password reset and verification codes, invites).</summary>
    public SmtpReceiver Smtp { get; } = SmtpReceiver.Start();

    /// <summary>The text messages Notifications sent through the SMS gateway.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<SmsMessage> Sms { get; } = new();

    /// <summary>A local web site whose pages Media may preview (see the LinkPreviews:AllowedEndpoints deviation below).</summary>
    public Uri Site { get; private set; } = null!;

    /// <summary>
    /// A loopback port reserved for a test's bot (IntegrationTests starts the sample EchoBot on it): the one loopback
    /// endpoint Messaging may send slash commands to (BotCommands:AllowedEndpoints, a deviation like the link previews').
    /// </summary>
    public int BotPort { get; } = FreePort();

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The settings both Gateways run with, for tests that start another instance.</summary>
    public IReadOnlyDictionary<string, string?> GatewaySettings { get; private set; } = new Dictionary<string, string?>();

    /// <summary>Where Media keeps the uploaded files' bytes.</summary>
    public string MediaBlobs => _platform!.MediaBlobs;

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            // Stop whatever did start, whether or not the runner disposes a fixture whose initialization failed.
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        (_site, Site) = await LoopbackServer.StartAsync(app =>
        {
            app.MapGet("/articles/{slug}", (string slug) => Results.Content(
                $"<html><head><title>{slug}</title><meta property=\"og:title\" content=\"Article {slug}\"></head><body></body></html>", "text/html"));
            // The SMS gateway Notifications posts text messages to.
            app.MapPost("/sms", (SmsMessage message) => Sms.Enqueue(message));
        });
        await Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync());
        _platform = await PlatformProcesses.StartAsync(new PlatformProcessOptions
        {
            Postgres = Database.ConnectionString,
            RabbitMq = VirtualHost.ConnectionString,
            Configure = (name, settings) =>
            {
                // Deviation: link previews never fetch loopback addresses; this test's own site is the one exception.
                if (name == "media")
                    settings["LinkPreviews:AllowedEndpoints:0"] = $"127.0.0.1:{Site.Port}";
                // The same for slash commands: the test's bot is the one loopback endpoint they may go to.
                if (name.StartsWith("messaging", StringComparison.Ordinal))
                    settings["BotCommands:AllowedEndpoints:0"] = $"127.0.0.1:{BotPort}";
                // Mail and SMS go to this fixture's SMTP server and SMS gateway.
                if (name.StartsWith("notifications", StringComparison.Ordinal))
                {
                    settings["Notifications:Invites:Smtp:Host"] = "127.0.0.1";
                    settings["Notifications:Invites:Smtp:Port"] = Smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    settings["Notifications:Invites:Smtp:Security"] = "none";
                    settings["Notifications:Invites:Sms:Url"] = new Uri(Site, "sms").ToString();
                    // Deviation: outgoing webhooks never go to loopback; the tests' receivers listen there. Retries in fractions of a second.
                    settings["Webhooks:AllowLoopback"] = "true";
                    settings["Webhooks:InitialBackoff"] = "00:00:00.200";
                    settings["Webhooks:MaxBackoff"] = "00:00:01";
                    settings["Webhooks:SweepInterval"] = "00:00:00.200";
                }
            },
        });
        (Identity, Messaging, Presence, Notifications, Media, Gateway1, Gateway2) = (_platform["identity"], _platform["messaging"],
            _platform["presence"], _platform["notifications"], _platform["media"], _platform["gateway1"], _platform["gateway2"]);
        GatewaySettings = _platform.GatewaySettings;

        // Ready does not wait for the broker: a service answers before its queues are declared and bound, and an event
        // published before then never reaches that service. Every service but Identity (which consumes nothing) must be
        // consuming before the first test sends anything.
        await ConsumingAsync(Messaging, Presence, Notifications, Media, Gateway1, Gateway2);
    }

    /// <summary>Awaits consumers on the broker from each of <paramref name="services"/> (bus connections are named "&lt;service&gt; &lt;host&gt; &lt;pid&gt;").</summary>
    public Task ConsumingAsync(params ServiceProcess[] services) =>
        EventuallyAsync(VirtualHost.ConsumersAsync,
            consumers => services.All(service => consumers.Any(consumer => consumer.Connection.EndsWith($" {service.ProcessId}", StringComparison.Ordinal))),
            "the services consume from their queues", services);

    /// <summary>One more Gateway instance, with <paramref name="overrides"/> on top of the others' settings; stopped with the platform at the latest.</summary>
    public Task<ServiceProcess> StartGatewayAsync(string name, IReadOnlyDictionary<string, string?> overrides, bool waitForBroker = true) =>
        _platform!.StartGatewayAsync(name, overrides, waitForBroker);

    /// <summary>
    /// Registers a user with <c>POST /api/v1/users</c> (with <paramref name="email"/> or a new address, unverified) and signs
    /// in by username with the password grant of <c>platform-cli</c>, both through <paramref name="gateway"/> (Gateway 1 by default).
    /// </summary>
    public async Task<User> SignUpAsync(string displayName, ServiceProcess? gateway = null, string? email = null)
    {
        gateway ??= Gateway1;
        using var anonymous = Anonymous(gateway);
        email ??= $"{Guid.NewGuid():N}@example.com";
        var registered = await ReadAsync(await anonymous.PostAsJsonAsync("api/v1/users", new { email, password = UserPassword, displayName }),
            HttpStatusCode.Created, "registration", Identity);
        var signedIn = await ReadAsync(await anonymous.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["client_id"] = "platform-cli",
            ["username"] = registered.GetProperty("username").GetString()!,
            ["password"] = UserPassword,
            ["scope"] = "openid profile email offline_access api",
        })), HttpStatusCode.OK, "sign-in", Identity);
        var token = signedIn.GetProperty("access_token").GetString()!;
        var http = Anonymous(gateway);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new User(registered.GetProperty("id").GetGuid(), registered.GetProperty("username").GetString()!, token, http) { Email = email };
    }

    /// <summary>
    /// Makes <paramref name="user"/> a platform admin, granted in the database as an installation's first admin is
    /// (services/Identity/README.md), and signs them in again with the <c>roles</c> scope: an HTTP client of Gateway 1.
    /// </summary>
    public async Task<HttpClient> SignInAsAdminAsync(User user)
    {
        await using (var connection = new Npgsql.NpgsqlConnection(Database.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand(
                """INSERT INTO identity.user_roles ("UserId", "RoleId") SELECT @user, "Id" FROM identity.roles WHERE "NormalizedName" = 'ADMIN'""", connection);
            command.Parameters.AddWithValue("user", user.Id);
            if (await command.ExecuteNonQueryAsync() != 1)
                throw new InvalidOperationException("The admin role was not granted.");
        }
        return await SignInWithRolesAsync(user.Email);
    }

    /// <summary>Signs in by email with the password grant and the <c>roles</c> scope: an HTTP client of Gateway 1.</summary>
    public async Task<HttpClient> SignInWithRolesAsync(string email)
    {
        using var anonymous = Anonymous(Gateway1);
        var signedIn = await ReadAsync(await anonymous.PostAsync("connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = "platform-cli", ["username"] = email, ["password"] = UserPassword,
            ["scope"] = "openid profile roles api",
        })), HttpStatusCode.OK, "sign-in", Identity);
        var http = Anonymous(Gateway1);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", signedIn.GetProperty("access_token").GetString());
        return http;
    }

    /// <summary>The 6-digit code in the newest mail to <paramref name="email"/> after <paramref name="seen"/> mails to it, within <see cref="Soon"/>.</summary>
    public async Task<string> MailedCodeAsync(string email, int seen = 0)
    {
        var mails = await EventuallyAsync(() => Task.FromResult(Smtp.Messages.Where(m => m.To.Mailboxes.Any(to => string.Equals(to.Address, email, StringComparison.OrdinalIgnoreCase))).ToList()),
            found => found.Count > seen, $"a mail to {email} arrives", Notifications);
        return System.Text.RegularExpressions.Regex.Match(mails[^1].TextBody ?? "", @"\b[0-9]{6}\b").Value;
    }

    /// <summary>Verifies <paramref name="user"/>'s email with the mailed code (<c>POST /api/v1/users/me/verification</c>, <c>.../confirm</c>).</summary>
    public async Task VerifyEmailAsync(User user)
    {
        var seen = Smtp.Messages.Count(m => m.To.Mailboxes.Any(to => string.Equals(to.Address, user.Email, StringComparison.OrdinalIgnoreCase)));
        await ReadAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/verification", new { channel = "email" }), HttpStatusCode.Accepted, "asking for a code", Identity);
        var code = await MailedCodeAsync(user.Email, seen);
        await ReadAsync(await user.Http.PostAsJsonAsync("api/v1/users/me/verification/confirm", new { channel = "email", code }), HttpStatusCode.NoContent, "confirming the code", Identity);
    }

    /// <summary>An HTTP client of the Gateway without a token; redirects are not followed, so tests see them.</summary>
    public HttpClient Anonymous(ServiceProcess gateway) => new(_handler, disposeHandler: false) { BaseAddress = gateway.BaseAddress };

    /// <summary>
    /// <c>POST /api/v1/conversations</c>: a conversation of <paramref name="creator"/> with <paramref name="members"/>. A
    /// direct one between strangers is a message request: the other member accepts it here, as most tests want two members
    /// who talk (ConsentTests opens requests itself).
    /// </summary>
    public async Task<JsonElement> CreateConversationAsync(User creator, string kind, IEnumerable<User> members, string? title = null)
    {
        var created = await ReadAsync(await creator.Http.PostAsJsonAsync("api/v1/conversations",
            new { kind, title, memberIds = members.Select(member => member.Id) }), HttpStatusCode.Created, "creating a conversation", Messaging);
        if (kind == "direct")
            foreach (var member in members)
                await ReadAsync(await member.Http.PostAsync($"api/v1/conversations/{created.GetProperty("id").GetGuid()}/accept", null),
                    HttpStatusCode.NoContent, "accepting the message request", Messaging);
        return created;
    }

    /// <summary><c>POST /api/v1/conversations/{id}/messages</c>: answers the message, with its <c>seq</c>.</summary>
    public async Task<JsonElement> SendAsync(User sender, Guid conversationId, string text, params Guid[] attachments) =>
        await ReadAsync(await sender.Http.PostAsJsonAsync($"api/v1/conversations/{conversationId}/messages",
            new { clientMessageId = Guid.NewGuid().ToString("N"), text, attachments }), HttpStatusCode.Created, "sending a message", Messaging);

    /// <summary><c>POST /api/v1/media</c> of a new PNG (new pixels each time, so no two uploads share stored bytes).</summary>
    public async Task<JsonElement> UploadImageAsync(User uploader)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(TestImages.RandomPng(96, 64));
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "file", "photo.png");
        return await ReadAsync(await uploader.Http.PostAsync("api/v1/media", form), HttpStatusCode.Created, "uploading an image", Media);
    }

    /// <summary>The official JavaScript SignalR client of <paramref name="user"/>, connected to <paramref name="gateway"/>'s hub.</summary>
    public Task<JsHubClient> ConnectAsync(User user, ServiceProcess gateway) =>
        JsHubClient.ConnectAsync(gateway.BaseAddress, user.Token, $"the JS client of {user.Username}", () => OutputOf(gateway, Messaging, Presence));

    /// <summary>Awaits a condition with <see cref="Soon"/> as the timeout; a failure shows the output of the services involved.</summary>
    public async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string because, params ServiceProcess[] involved)
    {
        try
        {
            return await Eventually.Returns(probe, condition, Soon, because);
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException(timeout.Message + OutputOf(involved), timeout);
        }
    }

    /// <summary>The body of an answer with the expected status; otherwise a failure with the body and the service's output.</summary>
    public async Task<JsonElement> ReadAsync(HttpResponseMessage response, HttpStatusCode expected, string what, ServiceProcess service)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != expected)
                Assert.Fail($"{what}: {(int)response.StatusCode} instead of {(int)expected}: {body}{OutputOf(service)}");
            return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        }
    }

    /// <summary>The last lines each service wrote, for failure messages.</summary>
    public string OutputOf(params ServiceProcess[] services) => _platform?.OutputOf(4000, services) ?? "";

    public async Task DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (_platform is not null)
            await _platform.DisposeAsync();
        _handler.Dispose();
        if (_site is not null)
            await _site.DisposeAsync();
        Smtp.Dispose();
        await Task.WhenAll(Database.DisposeAsync(), VirtualHost.DisposeAsync());
    }
}

/// <summary>A text message as the SMS gateway receives it.</summary>
public sealed record SmsMessage(string To, string Text);
