using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts.Identity;
using Platform.Presence.Data;
using Platform.Testing;

namespace Platform.Presence.Tests;

/// <summary>A deleted account leaves no row in Presence: connections, status text, memberships, contacts, blocks, privacy; twice is once.</summary>
public sealed class AccountErasureTests(PresenceHost host) : IClassFixture<PresenceHost>
{
    [Fact]
    public async Task UserDeleted_ErasesEveryRowOfTheUser_AndRedeliveryChangesNothing()
    {
        var erin = Guid.CreateVersion7();
        var frank = Guid.CreateVersion7();
        await host.ShareConversationAsync(erin, frank);
        await host.PublishAsync(new ContactsChanged { OwnerId = erin, Added = [frank], ChangedAt = DateTimeOffset.UtcNow });
        await host.PublishAsync(new BlocksChanged { OwnerId = Guid.CreateVersion7(), Added = [erin], ChangedAt = DateTimeOffset.UtcNow });
        await host.PublishAsync(new PrivacyChanged { UserId = erin, LastSeen = "everyone", ReadReceipts = true, WhoCanAdd = "everyone", ChangedAt = DateTimeOffset.UtcNow });
        using (var http = host.Client(erin))
            (await http.PutAsJsonAsync("/api/v1/presence/me", new { status = "available", statusText = "erin's secret plans" })).EnsureSuccessStatusCode();
        await host.HeartbeatAsync("gateway-erasure");
        await host.OpenAsync(erin, "erin-connection", "gateway-erasure");
        await host.WaitForStatusAsync(frank, erin, "online");
        await Eventually.Returns(() => RowsAsync(erin), rows => rows >= 6, TimeSpan.FromSeconds(10), "Presence holds Erin's rows in every table");

        var deleted = new UserDeleted { UserId = erin, DeletedAt = DateTimeOffset.UtcNow };
        await host.PublishAsync(deleted);
        await host.PublishAsync(deleted);

        await Eventually.Returns(() => RowsAsync(erin), rows => rows == 0, TimeSpan.FromSeconds(10), "no row of Presence mentions Erin");
        Assert.Equal("unknown", await host.StatusAsync(frank, erin));
        await host.Factory.Services.GetRequiredService<PresenceStore>().EraseUserAsync(erin, CancellationToken.None);
        Assert.Equal(0, await RowsAsync(erin));
    }

    /// <summary>Rows of Presence's tables that hold the user's id, in any column.</summary>
    private async Task<long> RowsAsync(Guid userId)
    {
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM presence.connections WHERE user_id = $1)
                 + (SELECT count(*) FROM presence.users WHERE user_id = $1)
                 + (SELECT count(*) FROM presence.members WHERE user_id = $1)
                 + (SELECT count(*) FROM presence.contacts WHERE owner_id = $1 OR contact_id = $1)
                 + (SELECT count(*) FROM presence.blocks WHERE owner_id = $1 OR blocked_id = $1)
                 + (SELECT count(*) FROM presence.privacy WHERE user_id = $1)
            """, connection) { Parameters = { new() { Value = userId } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
