using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Messaging.Domain;

namespace Platform.Messaging.Tests;

/// <summary>History and the log page by index on (conversation, seq): a page costs the same whatever the history's length.</summary>
public sealed class QueryPlanTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task HistoryPage_IsAnIndexRangeScanWithoutSort()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        await alice.Send(conversation, "one");
        await using var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession();

        var command = session.Query<MessageView>()
            .Where(m => m.ConversationId == conversation && m.Seq < 1000)
            .OrderByDescending(m => m.Seq).Take(50)
            .ToCommand();

        var plan = await Explain(command);
        Assert.Contains("mt_doc_message_uidx_conversation_seq", plan);
        Assert.DoesNotContain("Sort", plan);
    }

    [Fact]
    public async Task LogPage_IsAnIndexRangeScanWithoutSort()
    {
        var alice = host.Client();
        var conversation = await alice.CreateGroup(Guid.CreateVersion7());
        await using var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession();

        var command = session.Events.QueryAllRawEvents()
            .Where(e => e.StreamId == conversation && e.Version > 10)
            .OrderBy(e => e.Version).Take(100)
            .ToCommand();

        var plan = await Explain(command);
        Assert.Contains("Index", plan);
        Assert.DoesNotContain("Sort", plan);
    }

    private async Task<string> Explain(NpgsqlCommand command)
    {
        await using var connection = new NpgsqlConnection(host.Infrastructure.Database.ConnectionString);
        await connection.OpenAsync();
        // The tables are nearly empty; stop the planner from preferring a sequential scan for that reason alone.
        await using (var setting = new NpgsqlCommand("set enable_seqscan = off", connection))
            await setting.ExecuteNonQueryAsync();
        command.Connection = connection;
        command.CommandText = "explain " + command.CommandText;
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            lines.Add(reader.GetString(0));
        return string.Join("\n", lines);
    }
}
