using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Platform.ServiceDefaults;

namespace Platform.Messaging.Features;

/// <summary>
/// The STUN and TURN servers clients use for calls. TURN credentials follow the TURN REST API scheme that coturn
/// checks with <c>use-auth-secret</c> and <c>static-auth-secret</c>: username <c>expiry:userId</c> (expiry in unix
/// seconds), credential base64(HMAC-SHA1(secret, username)). The secret never leaves the server.
/// </summary>
public sealed class IceServerOptions
{
    public const string Section = "Calls:Ice";

    /// <summary>For example <c>stun:stun.example.com:3478</c>.</summary>
    public string[] StunUrls { get; set; } = [];

    /// <summary>For example <c>turn:turn.example.com:3478?transport=udp</c>, <c>turns:turn.example.com:5349</c>.</summary>
    public string[] TurnUrls { get; set; } = [];

    /// <summary>The secret shared with the TURN servers (coturn's <c>static-auth-secret</c>); required with TURN URLs.</summary>
    public string? TurnSecret { get; set; }

    /// <summary>How long handed-out TURN credentials stay valid.</summary>
    public TimeSpan CredentialLifetime { get; set; } = TimeSpan.FromMinutes(10);

    public const int MinSecretLength = 16;

    public static IEnumerable<string> Problems(IceServerOptions o)
    {
        foreach (var url in o.StunUrls)
            if (!url.StartsWith("stun:", StringComparison.Ordinal) && !url.StartsWith("stuns:", StringComparison.Ordinal))
                yield return $"Calls:Ice:StunUrls: '{url}' is not a stun: or stuns: URL.";
        foreach (var url in o.TurnUrls)
            if (!url.StartsWith("turn:", StringComparison.Ordinal) && !url.StartsWith("turns:", StringComparison.Ordinal))
                yield return $"Calls:Ice:TurnUrls: '{url}' is not a turn: or turns: URL.";
        if (o.TurnUrls.Length > 0 && (o.TurnSecret?.Length ?? 0) < MinSecretLength)
            yield return $"Calls:Ice:TurnSecret must be set (at least {MinSecretLength} characters) when Calls:Ice:TurnUrls are.";
        if (o.CredentialLifetime < TimeSpan.FromMinutes(1) || o.CredentialLifetime > TimeSpan.FromDays(7))
            yield return "Calls:Ice:CredentialLifetime must be between 00:01:00 and 7.00:00:00.";
    }
}

/// <summary>One <c>RTCIceServer</c>; STUN servers have no credentials (and none are written: a browser would take null for the text "null").</summary>
public sealed record IceServerDto(
    IReadOnlyList<string> Urls,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Username = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Credential = null);

/// <summary>Shaped as <c>RTCConfiguration.iceServers</c>, so a browser passes <c>iceServers</c> straight to <c>RTCPeerConnection</c>.</summary>
public sealed record IceServersResponse(IReadOnlyList<IceServerDto> IceServers, DateTimeOffset? ExpiresAt, long? Ttl);

public static class IceServers
{
    public static void MapIceServers(this RouteGroupBuilder calls) =>
        calls.MapGet("/ice-servers", Handle).WithName("GetIceServers");

    public static (string Username, string Credential) TurnCredential(string secret, Guid userId, DateTimeOffset expiresAt)
    {
        var username = $"{expiresAt.ToUnixTimeSeconds()}:{userId}";
#pragma warning disable CA5350 // coturn's REST API credentials are HMAC-SHA1 by its specification (use-auth-secret).
        var credential = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username)));
#pragma warning restore CA5350
        return (username, credential);
    }

    private static Ok<IceServersResponse> Handle(HttpContext http, IOptions<IceServerOptions> options, TimeProvider time)
    {
        var o = options.Value;
        var servers = new List<IceServerDto>();
        if (o.StunUrls.Length > 0)
            servers.Add(new IceServerDto(o.StunUrls));
        if (o.TurnUrls.Length == 0)
            return TypedResults.Ok(new IceServersResponse(servers, null, null));
        var expiresAt = time.GetUtcNow() + o.CredentialLifetime;
        var (username, credential) = TurnCredential(o.TurnSecret!, http.User.UserId(), expiresAt);
        servers.Add(new IceServerDto(o.TurnUrls, username, credential));
        return TypedResults.Ok(new IceServersResponse(servers, DateTimeOffset.FromUnixTimeSeconds(expiresAt.ToUnixTimeSeconds()), (long)o.CredentialLifetime.TotalSeconds));
    }
}
