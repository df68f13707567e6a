using System.Diagnostics;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Marten.Events.Aggregation;
using Marten.Events.Projections;
using Marten.Services;
using Npgsql;
using Weasel.Core;

namespace Platform.MartenMeasure;

// ADR 0007's numbers: Marten's own features beside what Messaging does by hand, on this machine's PostgreSQL.
//   source /work/testenv.sh (or the servers' infra.env); dotnet run -c Release --project tests/Marten.Measure
// Each store gets its own schema in a fresh database, dropped at the end.
public static class Program
{
    private const int Writes = 2000, Writers = 8, WritesPerWriter = 100, MaskedEvents = 10_000;

    public static async Task<int> Main()
    {
        var admin = Environment.GetEnvironmentVariable("PLATFORM_TEST_POSTGRES")
            ?? throw new InvalidOperationException("Set PLATFORM_TEST_POSTGRES (a superuser connection string).");
        var database = "measure_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(admin, $"create database {database}");
        var connection = new NpgsqlConnectionStringBuilder(admin) { Database = database }.ConnectionString;
        try
        {
            Console.WriteLine($"Marten measurements, {DateTimeOffset.UtcNow:u}, PostgreSQL at {new NpgsqlConnectionStringBuilder(admin).Host}");
            await ProjectionsAsync(connection);
            await ConcurrentWritersAsync(connection);
            await MaskingAsync(connection);
            return 0;
        }
        finally
        {
            await ExecuteAsync(admin, $"drop database if exists {database} with (force)");
        }
    }

    // (a) One message written: the stream's event, the conversation's view and the message's view, in one transaction.
    private static async Task ProjectionsAsync(string connection)
    {
        Console.WriteLine($"\n(a) {Writes} writes, one writer, one conversation: event + conversation view + message view");
        // Two rounds, the variants interleaved, so that a warming server or a busy neighbour does not favour one.
        foreach (var round in new[] { 1, 2 })
            foreach (var (name, mode) in new[] { ("ours", EventAppendMode.Quick), ("inline-quick", EventAppendMode.Quick), ("inline-rich", EventAppendMode.Rich) })
            {
                var counter = new RoundTrips();
                using var store = Store(connection, $"a{round}_" + name.Replace('-', '_'), mode, counter, inline: name != "ours");
                var conversationId = await StartAsync(store, byHand: name == "ours");
                var writer = name == "ours" ? (Func<IDocumentStore, Guid, Task>)WriteOursAsync : WriteWithFetchForWritingAsync;
                for (var i = 0; i < 50; i++)
                    await writer(store, conversationId); // warm-up
                counter.Reset();
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < Writes; i++)
                    await writer(store, conversationId);
                clock.Stop();
                await using var query = store.QuerySession();
                var wrongSeq = await query.Query<MessageDoc>().CountAsync(m => m.Seq == 0);
                Console.WriteLine($"  round {round} {name,-13} {clock.Elapsed.TotalMilliseconds / Writes:0.00} ms/write, {counter.PerWrite(Writes):0.0} Marten commands/write (+ COMMIT), messages with seq 0: {wrongSeq}");
            }
    }

    // Messaging's way: lock the stream's and the view's rows in one statement, compute the seq, append with the
    // expected version, store the views written by hand.
    private static async Task WriteOursAsync(IDocumentStore store, Guid conversationId)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(CancellationToken.None);
        var schema = store.Options.Events.DatabaseSchemaName;
        var conversation = (await session.QueryAsync<ConversationDoc>(
            $"select c.data from {schema}.mt_doc_conversationdoc c join {schema}.mt_streams s on s.id = c.id where s.id = ? for update of s, c",
            conversationId)).Single();
        var posted = new MessagePosted(Guid.CreateVersion7(), Guid.Empty, "hello", DateTimeOffset.UtcNow);
        var seq = conversation.LastSeq + 1;
        session.Events.Append(conversationId, seq, posted);
        session.Store(conversation.Apply(posted) with { LastSeq = seq });
        session.Store(new MessageDoc { Id = posted.MessageId, ConversationId = conversationId, Seq = seq, SenderId = posted.SenderId, Text = posted.Text });
        await session.SaveChangesAsync();
    }

    // Marten's way: fetch the aggregate for writing (optimistic: the version read is checked at commit), append, and
    // let the inline projections write the views.
    private static async Task WriteWithFetchForWritingAsync(IDocumentStore store, Guid conversationId)
    {
        await using var session = store.LightweightSession();
        var stream = await session.Events.FetchForWriting<ConversationDoc>(conversationId);
        stream.AppendOne(new MessagePosted(Guid.CreateVersion7(), Guid.Empty, "hello", DateTimeOffset.UtcNow));
        await session.SaveChangesAsync();
    }

    // (b) Eight writers on one conversation at once.
    private static async Task ConcurrentWritersAsync(string connection)
    {
        Console.WriteLine($"\n(b) {Writers} writers x {WritesPerWriter} writes on one conversation");
        foreach (var name in new[] { "ours", "exclusive", "optimistic" })
        {
            var counter = new RoundTrips();
            using var store = Store(connection, "b_" + name, name == "ours" ? EventAppendMode.Quick : EventAppendMode.Rich, counter, inline: name != "ours");
            var conversationId = await StartAsync(store, byHand: name == "ours");
            var retries = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
            {
                for (var i = 0; i < WritesPerWriter; i++)
                {
                    while (true)
                    {
                        try
                        {
                            if (name == "ours")
                                await WriteOursAsync(store, conversationId);
                            else if (name == "exclusive")
                                await WriteExclusiveAsync(store, conversationId);
                            else
                                await WriteWithFetchForWritingAsync(store, conversationId);
                            break;
                        }
                        catch (ConcurrencyException)
                        {
                            Interlocked.Increment(ref retries);
                        }
                    }
                }
            })));
            clock.Stop();
            await using var query = store.QuerySession();
            var state = await query.Events.FetchStreamStateAsync(conversationId);
            var schema = store.Options.Events.DatabaseSchemaName;
            var seqSpan = (await query.QueryAsync<long>($"select max(seq_id) - min(seq_id) + 1 from {schema}.mt_events")).Single();
            var total = Writers * WritesPerWriter;
            Console.WriteLine($"  {name,-11} {clock.Elapsed.TotalMilliseconds:0} ms for {total} ({total / clock.Elapsed.TotalSeconds:0} writes/s), " +
                $"retries {retries}, stream version {state!.Version} (expected {total + 1}), global seq span {seqSpan}, {counter.PerWrite(total + retries):0.0} commands/attempt");
        }
    }

    // Marten's exclusive append: an advisory lock on the stream for the transaction, then the append.
    private static async Task WriteExclusiveAsync(IDocumentStore store, Guid conversationId)
    {
        await using var session = store.LightweightSession();
        await session.Events.AppendExclusive(conversationId, new MessagePosted(Guid.CreateVersion7(), Guid.Empty, "hello", DateTimeOffset.UtcNow));
        await session.SaveChangesAsync();
    }

    // (c) Erasing one sender's text from 10,000 stored events of one conversation (half of them theirs).
    private static async Task MaskingAsync(string connection)
    {
        Console.WriteLine($"\n(c) erase the text of one sender's {MaskedEvents / 2} events among {MaskedEvents} in one conversation");
        var sender = Guid.CreateVersion7();
        foreach (var name in new[] { "sql-per-event", "sql-one-statement", "marten-masking" })
        {
            var counter = new RoundTrips();
            using var store = Store(connection, "c_" + name.Replace('-', '_'), EventAppendMode.Quick, counter, inline: false,
                masking: name == "marten-masking");
            var conversationId = await StartAsync(store, byHand: true);
            await using (var seed = store.LightweightSession())
            {
                seed.Events.Append(conversationId, Enumerable.Range(0, MaskedEvents)
                    .Select(i => (object)new MessagePosted(Guid.CreateVersion7(), i % 2 == 0 ? sender : Guid.CreateVersion7(), "secret " + i, DateTimeOffset.UtcNow)).ToArray());
                await seed.SaveChangesAsync();
            }
            var schema = store.Options.Events.DatabaseSchemaName;
            List<long> versions;
            await using (var query = store.QuerySession())
                versions = (await query.QueryAsync<long>($"select version from {schema}.mt_events where stream_id = ? and data ->> 'senderId' = ?",
                    conversationId, sender.ToString())).ToList();
            counter.Reset();
            var clock = Stopwatch.StartNew();
            switch (name)
            {
                case "sql-per-event":
                    // What ConversationWriter.EraseText queues: one statement per event, sent in one batch with the write.
                    await using (var session = store.LightweightSession())
                    {
                        foreach (var version in versions)
                            session.QueueSqlCommand($"update {schema}.mt_events set data = data || '{{\"text\":\"\"}}'::jsonb where stream_id = ? and version = ?",
                                conversationId, version);
                        await session.SaveChangesAsync();
                    }
                    break;
                case "sql-one-statement":
                    await using (var session = store.LightweightSession())
                    {
                        session.QueueSqlCommand($"update {schema}.mt_events set data = data || '{{\"text\":\"\"}}'::jsonb where stream_id = ? and version = any(?)",
                            conversationId, versions.ToArray());
                        await session.SaveChangesAsync();
                    }
                    break;
                default:
                    await store.Advanced.ApplyEventDataMasking(masking =>
                        masking.IncludeStream(conversationId, e => e.Data is MessagePosted posted && posted.SenderId == sender), CancellationToken.None);
                    break;
            }
            clock.Stop();
            await using var check = store.QuerySession();
            var left = (await check.QueryAsync<long>($"select count(*) from {schema}.mt_events where stream_id = ? and data ->> 'senderId' = ? and data ->> 'text' <> ''",
                conversationId, sender.ToString())).Single();
            var others = (await check.QueryAsync<long>($"select count(*) from {schema}.mt_events where stream_id = ? and data ->> 'text' like 'secret %'",
                conversationId)).Single();
            Console.WriteLine($"  {name,-17} {clock.Elapsed.TotalMilliseconds:0} ms, {counter.Count} Marten commands, texts left {left}, others' texts kept {others}");
        }
    }

    private static async Task<Guid> StartAsync(IDocumentStore store, bool byHand)
    {
        var conversationId = Guid.CreateVersion7();
        await using var session = store.LightweightSession();
        var started = new ConversationStarted(conversationId, DateTimeOffset.UtcNow);
        session.Events.StartStream<ConversationDoc>(conversationId, started);
        // Written by hand where the projection is ours (with the seq); the inline projection writes it otherwise.
        if (byHand)
            session.Store(ConversationDoc.Create(started) with { LastSeq = 1 });
        await session.SaveChangesAsync();
        return conversationId;
    }

    private static DocumentStore Store(string connection, string schema, EventAppendMode mode, RoundTrips counter, bool inline, bool masking = false) =>
        DocumentStore.For(options =>
        {
            options.Connection(connection);
            options.DatabaseSchemaName = schema;
            options.Events.DatabaseSchemaName = schema;
            options.Events.AppendMode = mode;
            options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            // As Messaging stores them: camelCase JSON, which its erasure SQL addresses by name.
            options.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
            options.Logger(counter);
            if (inline)
            {
                options.Projections.Snapshot<ConversationDoc>(SnapshotLifecycle.Inline);
                options.Projections.Add<MessageProjection>(ProjectionLifecycle.Inline);
            }
            if (masking)
                options.Events.AddMaskingRuleForProtectedInformation<MessagePosted>(posted => posted with { Text = "" });
        });

    private static async Task ExecuteAsync(string connection, string sql)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var command = new NpgsqlCommand(sql, conn);
        await command.ExecuteNonQueryAsync();
    }
}

public sealed record ConversationStarted(Guid ConversationId, DateTimeOffset At);

public sealed record MessagePosted(Guid MessageId, Guid SenderId, string Text, DateTimeOffset PostedAt);

public sealed record ConversationDoc
{
    public Guid Id { get; init; }
    public long LastSeq { get; init; }
    public int Messages { get; init; }

    public static ConversationDoc Create(ConversationStarted started) => new() { Id = started.ConversationId };

    public ConversationDoc Apply(MessagePosted posted) => this with { Messages = Messages + 1 };
}

public sealed record MessageDoc
{
    public Guid Id { get; init; }
    public Guid ConversationId { get; init; }
    public long Seq { get; init; }
    public Guid SenderId { get; init; }
    public string Text { get; init; } = "";
}

// One view per message, keyed by the message id, with the seq (the stream version) of its event.
public sealed class MessageProjection : MultiStreamProjection<MessageDoc, Guid>
{
    public MessageProjection() => Identity<MessagePosted>(posted => posted.MessageId);

    public static MessageDoc Create(IEvent<MessagePosted> e) => new()
    {
        Id = e.Data.MessageId, ConversationId = e.StreamId, Seq = e.Version, SenderId = e.Data.SenderId, Text = e.Data.Text,
    };
}

// Counts what Marten sends: each command or batch is one round trip (COMMIT comes on top).
public sealed class RoundTrips : IMartenLogger, IMartenSessionLogger
{
    private int _count;

    public int Count => _count;

    public void Reset() => Interlocked.Exchange(ref _count, 0);

    public double PerWrite(int writes) => (double)_count / writes;

    public IMartenSessionLogger StartSession(IQuerySession session) => this;

    public void SchemaChange(string sql)
    {
    }

    public void LogSuccess(NpgsqlCommand command)
    {
    }

    public void LogFailure(NpgsqlCommand command, Exception ex)
    {
    }

    public void LogSuccess(NpgsqlBatch batch)
    {
    }

    public void LogFailure(NpgsqlBatch batch, Exception ex)
    {
    }

    public void LogFailure(Exception ex, string message)
    {
    }

    public void RecordSavedChanges(IDocumentSession session, IChangeSet commit)
    {
    }

    public void OnBeforeExecute(NpgsqlCommand command) => Interlocked.Increment(ref _count);

    public void OnBeforeExecute(NpgsqlBatch batch) => Interlocked.Increment(ref _count);
}
