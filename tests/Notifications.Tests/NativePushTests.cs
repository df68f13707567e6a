using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Platform.Notifications.Domain;
using Platform.Notifications.Invites;
using Platform.Notifications.Push;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>APNs and FCM cannot be reached from here: the requests they would get are checked instead, and SMS goes to a local gateway.</summary>
public sealed class NativePushTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private static readonly PushPayload Payload = new("Alice mentioned you in #general", "@bob look", Kinds.Mention, Guid.Parse("01a2277e-0000-7000-8000-000000000001"), 1, [Guid.NewGuid()]);

    [Fact]
    public async Task Apns_Request_IsHttp2ToTheDevice_WithAnEs256ProviderToken_TopicAndAlert()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var options = Options.Create(new NotificationsOptions
        {
            Push = { Apns = { Enabled = true, KeyId = "ABC123DEFG", TeamId = "TEAM123456", BundleId = "com.example.chat", PrivateKeyPem = key.ExportPkcs8PrivateKeyPem(), Production = false } },
        });
        var sender = new ApnsSender(new HttpClient(), options, Clock);

        using var request = sender.BuildRequest(new PushSubscriptionDoc { Platform = "apns", Endpoint = "a1b2c3d4" }, Payload);

        Assert.Equal("https://api.sandbox.push.apple.com/3/device/a1b2c3d4", request.RequestUri!.ToString());
        Assert.Equal(HttpVersion.Version20, request.Version);
        Assert.Equal("com.example.chat", request.Headers.GetValues("apns-topic").Single());
        Assert.Equal("alert", request.Headers.GetValues("apns-push-type").Single());
        Assert.Equal("10", request.Headers.GetValues("apns-priority").Single());
        var token = request.Headers.GetValues("authorization").Single()["bearer ".Length..];
        var validated = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKey = new ECDsaSecurityKey(ECDsa.Create(key.ExportParameters(false))),
            ValidIssuer = "TEAM123456", ValidateAudience = false, ValidateLifetime = false, RequireExpirationTime = false,
        });
        Assert.True(validated.IsValid, validated.Exception?.Message);
        Assert.Equal("ABC123DEFG", new JsonWebToken(token).Kid);
        Assert.Equal("ES256", new JsonWebToken(token).Alg);
        var body = JsonDocument.Parse(await request.Content!.ReadAsStringAsync()).RootElement;
        Assert.Equal("Alice mentioned you in #general", body.GetProperty("aps").GetProperty("alert").GetProperty("title").GetString());
        Assert.Equal(Payload.ConversationId.ToString(), body.GetProperty("aps").GetProperty("thread-id").GetString());
    }

    [Fact]
    public async Task Corrections_KeepTheCollapseIdAndTag_AndAWithdrawalIsSilent()
    {
        using var ecKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsaKey = RSA.Create(2048);
        var options = Options.Create(new NotificationsOptions
        {
            Push =
            {
                Apns = { Enabled = true, KeyId = "ABC123DEFG", TeamId = "TEAM123456", BundleId = "com.example.chat", PrivateKeyPem = ecKey.ExportPkcs8PrivateKeyPem() },
                Fcm = { Enabled = true, ProjectId = "chat-prod", ClientEmail = "push@chat-prod.iam.gserviceaccount.com", PrivateKeyPem = rsaKey.ExportPkcs8PrivateKeyPem() },
            },
        });
        var tag = Payload.ConversationId!.Value.ToString("N");
        var update = Payload with { Body = "@bob look (edited)", Action = PushActions.Update };
        var withdrawal = PushPayload.Withdrawal(Payload.ConversationId.Value, Payload.NotificationIds);
        var apns = new ApnsSender(new HttpClient(), options, Clock);
        var fcm = new FcmSender(new HttpClient(), options, Clock);

        using var apnsUpdate = apns.BuildRequest(new PushSubscriptionDoc { Platform = "apns", Endpoint = "a1" }, update);
        Assert.Equal(tag, apnsUpdate.Headers.GetValues("apns-collapse-id").Single());
        var updateBody = JsonDocument.Parse(await apnsUpdate.Content!.ReadAsStringAsync()).RootElement;
        Assert.Equal("@bob look (edited)", updateBody.GetProperty("aps").GetProperty("alert").GetProperty("body").GetString());
        Assert.False(updateBody.GetProperty("aps").TryGetProperty("sound", out _));
        using var apnsWithdrawal = apns.BuildRequest(new PushSubscriptionDoc { Platform = "apns", Endpoint = "a1" }, withdrawal);
        Assert.Equal(tag, apnsWithdrawal.Headers.GetValues("apns-collapse-id").Single());
        Assert.Equal("background", apnsWithdrawal.Headers.GetValues("apns-push-type").Single());
        var withdrawalBody = JsonDocument.Parse(await apnsWithdrawal.Content!.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, withdrawalBody.GetProperty("aps").GetProperty("content-available").GetInt32());
        Assert.Equal("withdraw", withdrawalBody.GetProperty("action").GetString());

        using var fcmUpdate = fcm.BuildRequest(new PushSubscriptionDoc { Platform = "fcm", Endpoint = "t1" }, update, "token");
        var fcmMessage = JsonDocument.Parse(await fcmUpdate.Content!.ReadAsStringAsync()).RootElement.GetProperty("message");
        Assert.Equal(tag, fcmMessage.GetProperty("android").GetProperty("notification").GetProperty("tag").GetString());
        Assert.Equal(tag, fcmMessage.GetProperty("android").GetProperty("collapse_key").GetString());
        using var fcmWithdrawal = fcm.BuildRequest(new PushSubscriptionDoc { Platform = "fcm", Endpoint = "t1" }, withdrawal, "token");
        var fcmData = JsonDocument.Parse(await fcmWithdrawal.Content!.ReadAsStringAsync()).RootElement.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, fcmData.GetProperty("notification").ValueKind);
        Assert.Equal("withdraw", fcmData.GetProperty("data").GetProperty("action").GetString());
        Assert.Equal(tag, fcmData.GetProperty("data").GetProperty("tag").GetString());
    }

    [Fact]
    public async Task Fcm_Requests_AreAServiceAccountAssertion_ThenAV1SendWithTheToken()
    {
        using var key = RSA.Create(2048);
        var options = Options.Create(new NotificationsOptions
        {
            Push = { Fcm = { Enabled = true, ProjectId = "chat-prod", ClientEmail = "push@chat-prod.iam.gserviceaccount.com", PrivateKeyPem = key.ExportPkcs8PrivateKeyPem() } },
        });
        var sender = new FcmSender(new HttpClient(), options, Clock);

        using var tokenRequest = sender.BuildTokenRequest();
        Assert.Equal("https://oauth2.googleapis.com/token", tokenRequest.RequestUri!.ToString());
        var form = QueryHelpers(await tokenRequest.Content!.ReadAsStringAsync());
        Assert.Equal("urn:ietf:params:oauth:grant-type:jwt-bearer", form["grant_type"]);
        var validated = await new JsonWebTokenHandler().ValidateTokenAsync(form["assertion"], new TokenValidationParameters
        {
            IssuerSigningKey = new RsaSecurityKey(key.ExportParameters(false)),
            ValidIssuer = "push@chat-prod.iam.gserviceaccount.com", ValidAudience = "https://oauth2.googleapis.com/token", ValidateLifetime = false,
        });
        Assert.True(validated.IsValid, validated.Exception?.Message);
        Assert.Equal("https://www.googleapis.com/auth/firebase.messaging", validated.Claims["scope"]);

        using var send = sender.BuildRequest(new PushSubscriptionDoc { Platform = "fcm", Endpoint = "device-token-1" }, Payload, "ya29.token");
        Assert.Equal("https://fcm.googleapis.com/v1/projects/chat-prod/messages:send", send.RequestUri!.ToString());
        Assert.Equal("Bearer ya29.token", send.Headers.Authorization!.ToString());
        var message = JsonDocument.Parse(await send.Content!.ReadAsStringAsync()).RootElement.GetProperty("message");
        Assert.Equal("device-token-1", message.GetProperty("token").GetString());
        Assert.Equal("@bob look", message.GetProperty("notification").GetProperty("body").GetString());
        Assert.Equal("high", message.GetProperty("android").GetProperty("priority").GetString());
    }

    [Fact]
    public async Task Sms_IsPostedToTheConfiguredGateway()
    {
        var received = new TaskCompletionSource<(string Authorization, JsonElement Body)>();
        var (app, address) = await LoopbackServer.StartAsync(app => app.MapPost("/sms", async (HttpContext context) =>
        {
            received.TrySetResult((context.Request.Headers.Authorization.ToString(), await JsonSerializer.DeserializeAsync<JsonElement>(context.Request.Body)));
            return Results.Accepted();
        }));
        await using var _ = app;
        var sms = new HttpSmsSender(new HttpClient(), Options.Create(new NotificationsOptions
        {
            Invites = { Sms = { Url = new Uri(address, "sms").ToString(), Authorization = "Bearer sms-secret" } },
        }));

        await sms.SendAsync("+12025550123", "Alice invites you to chat: https://chat.example.com/invite?invite=abc", CancellationToken.None);

        var (authorization, body) = await received.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("Bearer sms-secret", authorization);
        Assert.Equal("+12025550123", body.GetProperty("to").GetString());
        Assert.Contains("invite=abc", body.GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("22:00", "07:00", "2026-11-29T23:30:00Z", "2026-11-30T07:00:00Z")]
    [InlineData("22:00", "07:00", "2026-11-29T06:59:00Z", "2026-11-29T07:00:00Z")]
    [InlineData("22:00", "07:00", "2026-11-29T12:00:00Z", null)]
    [InlineData("09:00", "17:00", "2026-11-29T10:00:00Z", "2026-11-29T17:00:00Z")]
    public void QuietHours_KnowWhenTheyEnd_AcrossMidnight(string start, string end, string now, string? expected)
    {
        var ends = Quiet.EndOf(new QuietHours(start, end, "Etc/UTC"), DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(expected is null ? null : DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), ends);
    }

    [Fact]
    public void QuietHours_AreInTheUsersTimeZone()
    {
        // 23:30 in Paris (UTC+1 in winter) is 22:30 UTC: within 22:00-07:00 Paris time, ending 06:00 UTC.
        var ends = Quiet.EndOf(new QuietHours("22:00", "07:00", "Europe/Paris"), new DateTimeOffset(2026, 11, 29, 22, 30, 0, TimeSpan.Zero));
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 6, 0, 0, TimeSpan.Zero), ends);
    }

    private static Dictionary<string, string> QueryHelpers(string form) => form.Split('&')
        .Select(pair => pair.Split('=', 2)).ToDictionary(p => Uri.UnescapeDataString(p[0]), p => Uri.UnescapeDataString(p[1].Replace('+', ' ')));
}
