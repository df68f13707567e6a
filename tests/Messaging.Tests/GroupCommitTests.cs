using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Platform.Messaging.Domain;
using Platform.Testing;

namespace Platform.Messaging.Tests;

/// <summary>A Messaging host that runs one write transaction at a time, so that writes arriving meanwhile are combined.</summary>
public sealed class OneWriteTransactionHost : MessagingHost
{
    protected override void Configure(ServiceFactory<Program> factory)
    {
        base.Configure(factory);
        factory.WithSetting("Messaging:WriteTransactions", "1");
    }
}

/// <summary>Group commit across conversations: writes of many conversations in one transaction, each with its own outcome.</summary>
public sealed class GroupCommitTests(OneWriteTransactionHost host) : IClassFixture<OneWriteTransactionHost>
{
    [Fact]
    public async Task WritesOfManyConversations_WaitingForTheTransaction_CommitTogether_EachWithItsOwnOutcome()
    {
        var writer = host.Factory.Services.GetRequiredService<ConversationWriter>();
        using var sizes = new TransactionSizes(host.Factory.Services.GetRequiredService<IMeterFactory>());
        var alice = host.Client();
        var bob = host.Client();
        var conversations = new List<Guid>();
        for (var i = 0; i < 6; i++)
            conversations.Add(await alice.CreateGroup(bob.UserId));
        var outsider = host.Client();
        var blocker = await alice.CreateGroup(bob.UserId);

        // Round 1: the one transaction is held open while the writes of six conversations arrive, among them a send
        // refused (the outsider is no member) and a retry of a send in the same batch (one message, answered twice).
        var holding = await HoldTheTransactionAsync(writer, blocker);
        var sends = new List<Task<HttpResponseMessage>>
        {
            alice.Post($"/api/v1/conversations/{conversations[0]}/messages", new { clientMessageId = "a", text = "to 0" }),
            bob.Post($"/api/v1/conversations/{conversations[1]}/messages", new { clientMessageId = "b", text = "to 1" }),
            alice.Post($"/api/v1/conversations/{conversations[2]}/messages", new { clientMessageId = "c", text = "to 2" }),
            outsider.Post($"/api/v1/conversations/{conversations[3]}/messages", new { clientMessageId = "d", text = "not a member" }),
            bob.Post($"/api/v1/conversations/{conversations[4]}/messages", new { clientMessageId = "e", text = "to 4" }),
            bob.Post($"/api/v1/conversations/{conversations[4]}/messages", new { clientMessageId = "e", text = "to 4" }),
            alice.Post($"/api/v1/conversations/{conversations[5]}/messages", new { clientMessageId = "f", text = "to 5" }),
        };
        await Eventually.Returns(() => Task.FromResult(writer.Waiting), waiting => waiting == sends.Count, TimeSpan.FromSeconds(20),
            "every send waits for the transaction");
        holding.SetResult();
        var responses = await Task.WhenAll(sends);

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.NotFound,
            HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.Created], responses.Select(r => r.StatusCode));
        var retried = await Task.WhenAll(responses[4..6].Select(r => r.Content.ReadAsStringAsync()));
        Assert.Equal(retried[0], retried[1]);
        // One transaction carried the six writes that appended (the refused one appended nothing).
        Assert.Contains(6, sizes.Recorded);
        foreach (var (conversation, i) in conversations.Select((c, i) => (c, i)))
        {
            var log = await alice.Get($"/api/v1/conversations/{conversation}/events?after=0");
            var seqs = log.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()).ToList();
            Assert.Equal(i == 3 ? [1L] : [1L, 2L], seqs);
        }

        // Round 2: one write of the batch fails: the other conversations' writes are committed all the same (each
        // conversation again on its own), and only the failing write gets the error.
        holding = await HoldTheTransactionAsync(writer, blocker);
        var failing = writer.WriteAsync(conversations[3], _ => throw new InvalidOperationException("this write fails"), CancellationToken.None);
        var others = conversations.Where((_, i) => i != 3)
            .Select(conversation => alice.Post($"/api/v1/conversations/{conversation}/messages", new { clientMessageId = "round 2", text = "again" }))
            .ToList();
        await Eventually.Returns(() => Task.FromResult(writer.Waiting), waiting => waiting == others.Count + 1, TimeSpan.FromSeconds(20),
            "every write waits for the transaction");
        holding.SetResult();

        await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.All(await Task.WhenAll(others), response => Assert.Equal(HttpStatusCode.Created, response.StatusCode));
        foreach (var conversation in conversations.Where((_, i) => i != 3))
        {
            var log = await alice.Get($"/api/v1/conversations/{conversation}/events?after=0");
            Assert.Equal([1L, 2L, 3L], log.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
        }
    }

    // A write that keeps the host's one write transaction open until the returned source is set.
    private static async Task<TaskCompletionSource> HoldTheTransactionAsync(ConversationWriter writer, Guid conversation)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = writer.WriteAsync(conversation, async _ =>
        {
            entered.SetResult();
            await release.Task;
            return Decision.Nothing;
        }, CancellationToken.None);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(20));
        return release;
    }

    // The writes-per-transaction histogram of this host (the listener sees every host's meters in the test process).
    private sealed class TransactionSizes : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<int> _recorded = [];

        public TransactionSizes(IMeterFactory meters)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == ConversationWriter.WritesPerTransactionMetric && ReferenceEquals(instrument.Meter.Scope, meters))
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
            {
                lock (_recorded)
                    _recorded.Add(value);
            });
            _listener.Start();
        }

        public IReadOnlyList<int> Recorded
        {
            get
            {
                lock (_recorded)
                    return [.. _recorded];
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
