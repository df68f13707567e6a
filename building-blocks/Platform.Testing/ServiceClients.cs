using System.Security.Cryptography;

namespace Platform.Testing;

/// <summary>
/// Confidential clients for services that call other services (client credentials), with secrets generated per test
/// run: the settings Identity registers them from, and each service's own settings to sign in and read Messaging's log.
/// </summary>
public sealed class ServiceClients
{
    private readonly Dictionary<string, string> _secrets;

    public ServiceClients(params string[] clientIds) =>
        _secrets = clientIds.ToDictionary(id => id, _ => Convert.ToHexString(RandomNumberGenerator.GetBytes(32)));

    /// <summary>The clients Media, Notifications and Presence sign in as.</summary>
    public static ServiceClients ConversationLogReaders() => new("media", "notifications", "presence");

    public string SecretOf(string clientId) => _secrets[clientId];

    /// <summary>Identity's settings registering every client.</summary>
    public IEnumerable<KeyValuePair<string, string?>> IdentitySettings() =>
        _secrets.Select(s => new KeyValuePair<string, string?>($"Identity:Clients:Services:{s.Key}:Secret", s.Value));

    /// <summary>A service's settings: its client and Messaging's internal address for the conversation log backfill.</summary>
    public IEnumerable<KeyValuePair<string, string?>> ServiceSettings(string clientId, Uri messaging) =>
    [
        new("ServiceClient:ClientId", clientId),
        new("ServiceClient:ClientSecret", _secrets[clientId]),
        new("ConversationLog:MessagingAddress", messaging.ToString()),
        new("ConversationLog:Enabled", "true"),
    ];
}
