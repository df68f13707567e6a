using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace Platform.Notifications.Webhooks;

/// <summary>
/// Webhook secrets: generated here, shown once (on registration and rotation), stored only as ASP.NET Data Protection
/// protected them, unprotected to sign a delivery. Never logged.
/// </summary>
public sealed class WebhookSecrets(IDataProtectionProvider provider)
{
    private readonly IDataProtector _protector = provider.CreateProtector("Platform.Notifications.Webhooks.Secret.v1");

    /// <summary>A new secret: <c>whsec_</c> and 32 random bytes in hex. The HMAC key is the secret's UTF-8 text as given.</summary>
    public static string Generate() => "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public string Protect(string secret) => _protector.Protect(secret);

    public string Unprotect(string protectedSecret) => _protector.Unprotect(protectedSecret);

    /// <summary>
    /// <c>Platform-Signature</c>: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "t.body"&gt;</c>, with one more
    /// <c>v1=</c> per further secret (the previous one during a rotation's grace period). A receiver accepts the
    /// delivery when any <c>v1</c> matches its secret and <c>t</c> is recent.
    /// </summary>
    public static string Sign(long timestamp, string body, IEnumerable<string> secrets)
    {
        var signed = Encoding.UTF8.GetBytes($"{timestamp}.{body}");
        var header = new StringBuilder($"t={timestamp}");
        foreach (var secret in secrets)
            header.Append(",v1=").Append(Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed)));
        return header.ToString();
    }
}

/// <summary>
/// The Data Protection key ring in PostgreSQL (<c>notifications.data_protection_keys</c>), so every replica, and the
/// same one after a restart, can unprotect the secrets any of them protected.
/// </summary>
public sealed class PostgresXmlRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    private const string Ddl = """
        SELECT pg_advisory_xact_lock(7242624);
        CREATE SCHEMA IF NOT EXISTS notifications;
        CREATE TABLE IF NOT EXISTS notifications.data_protection_keys (
            name text PRIMARY KEY,
            xml  text NOT NULL);
        """;

    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = Open();
        using var command = new NpgsqlCommand("SELECT xml FROM notifications.data_protection_keys", connection);
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
            elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var connection = Open();
        using var command = new NpgsqlCommand("INSERT INTO notifications.data_protection_keys (name, xml) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", connection);
        command.Parameters.AddWithValue(friendlyName);
        command.Parameters.AddWithValue(element.ToString(SaveOptions.DisableFormatting));
        command.ExecuteNonQuery();
    }

    private NpgsqlConnection Open()
    {
        var connection = dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        using (var command = new NpgsqlCommand(Ddl, connection, transaction))
            command.ExecuteNonQuery();
        transaction.Commit();
        return connection;
    }
}
