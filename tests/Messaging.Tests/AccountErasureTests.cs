using System.Net.Http.Json;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts.Identity;
using Platform.Messaging.Consumers;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>
/// A deleted account in Messaging: the user's messages become tombstones exactly as deletes make them, their reactions go,
/// they leave, their saved messages and reports' authorship go; nothing they wrote is stored anywhere; twice is once.
/// </summary>
public sealed class AccountErasureTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task UserDeleted_TombstonesTheUsersMessages_RemovesTheirTraces_AndRedeliveryChangesNothing()
    {
        var marker = "zq" + Guid.NewGuid().ToString("N")[..12];
        var erin = host.Client(name: "Erin");
        var bob = host.Client(name: "Bob");
        var conversationId = await erin.CreateGroup(bob.UserId);
        var erins = (await erin.Send(conversationId, $"first words {marker}")).GetProperty("id").GetGuid();
        await erin.Json200(await erin.Patch($"/api/v1/conversations/{conversationId}/messages/{erins}", new { text = $"edited words {marker}" }));
        var bobs = (await bob.Send(conversationId, "bob's own words")).GetProperty("id").GetGuid();
        await erin.Json200(await erin.Http.PutAsync($"/api/v1/conversations/{conversationId}/messages/{bobs}/reactions/{Uri.EscapeDataString("👍")}", null));
        (await erin.Http.PutAsync($"/api/v1/saved-messages/{bobs}", null)).EnsureSuccessStatusCode();
        (await erin.Post($"/api/v1/conversations/{conversationId}/messages/{bobs}/reports", new { reason = $"report by {marker}" })).EnsureSuccessStatusCode();
        Assert.NotEmpty(await TracesAsync(marker));

        var bus = host.Factory.Services.GetRequiredService<IBus>();
        var deleted = new UserDeleted { UserId = erin.UserId, DeletedAt = DateTimeOffset.UtcNow };
        await bus.Publish(deleted);
        await bus.Publish(deleted);

        var history = await Eventually.Returns(() => bob.Get($"/api/v1/conversations/{conversationId}/messages"),
            page => page.GetProperty("items").EnumerateArray().Any(m => m.GetProperty("id").GetGuid() == erins && m.GetProperty("deleted").GetBoolean())
                && page.GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == bobs).GetProperty("reactions").GetArrayLength() == 0,
            TimeSpan.FromSeconds(15), "Erin's message is a tombstone and her reaction is gone");
        Assert.Equal("bob's own words", history.GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == bobs).GetProperty("text").GetString());
        Assert.Equal(1, (await bob.Get($"/api/v1/conversations/{conversationId}")).GetProperty("memberCount").GetInt32());
        await Eventually.Returns(() => TracesAsync(marker), traces => traces.Count == 0, TimeSpan.FromSeconds(15), "no document or event holds Erin's words");
        Assert.Empty(await StoredForAsync(erin.UserId));

        // Delivered twice and run once more by hand: one tombstone and one leave in the log, nothing more.
        using (var scope = host.Factory.Services.CreateScope())
            await scope.ServiceProvider.GetRequiredService<UserErasureConsumer>().EraseAsync(erin.UserId, CancellationToken.None);
        var log = (await bob.Get($"/api/v1/conversations/{conversationId}/events?after=0")).GetProperty("items").EnumerateArray().ToList();
        Assert.Single(log, e => e.GetProperty("type").GetString() == "message.deleted");
        Assert.Single(log, e => e.GetProperty("type").GetString() == "member.left" && e.GetProperty("data").GetProperty("userId").GetGuid() == erin.UserId);
        Assert.Single(log, e => e.GetProperty("type").GetString() == "reaction.removed");
    }

    /// <summary>Rows of Messaging's tables (documents, events) holding <paramref name="marker"/>.</summary>
    private async Task<List<string>> TracesAsync(string marker)
    {
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'messaging' AND table_type = 'BASE TABLE'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                tables.Add(reader.GetString(0));
        var traces = new List<string>();
        foreach (var table in tables)
        {
            await using var dump = new NpgsqlCommand($"SELECT row_to_json(t)::text FROM messaging.\"{table}\" t WHERE row_to_json(t)::text ILIKE '%' || $1 || '%'", connection)
            {
                Parameters = { new() { Value = marker } },
            };
            await using var rows = await dump.ExecuteReaderAsync();
            while (await rows.ReadAsync())
                traces.Add($"{table}: {rows.GetString(0)}");
        }
        return traces;
    }

    /// <summary>Documents kept per user (memberships with their read cursors, saved messages, thread follows) that still name the user.</summary>
    private async Task<List<string>> StoredForAsync(Guid userId)
    {
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        var found = new List<string>();
        foreach (var table in new[] { "mt_doc_membership", "mt_doc_saved_message", "mt_doc_thread_follow", "mt_doc_message_report" })
        {
            await using var command = new NpgsqlCommand($"SELECT data::text FROM messaging.{table} WHERE data::text ILIKE '%' || $1 || '%'", connection)
            {
                Parameters = { new() { Value = userId.ToString() } },
            };
            await using var rows = await command.ExecuteReaderAsync();
            while (await rows.ReadAsync())
                found.Add($"{table}: {rows.GetString(0)}");
        }
        return found;
    }
}
