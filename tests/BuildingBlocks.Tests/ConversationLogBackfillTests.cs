using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Platform.Contracts.Messaging;
using Platform.ServiceDefaults;

namespace Platform.BuildingBlocks.Tests;

public sealed class ConversationLogBackfillTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static ConversationLogEntry Entry(long position, DateTimeOffset committedAt, long seq = 1) => new()
    {
        Position = position,
        Event = new ConversationEvent
        {
            EventId = Guid.CreateVersion7(), ConversationId = Guid.Empty, Seq = seq, Type = ConversationEventTypes.MemberJoined,
            OccurredAt = committedAt, ActorId = Guid.Empty, Data = JsonSerializer.SerializeToElement(new { }), CommittedAt = committedAt,
        },
    };

    [Fact]
    public void Checkpoint_StopsBeforeTheFirstEventCommittedInTheSettleWindow()
    {
        var page = new[] { Entry(3, Now.AddSeconds(-30)), Entry(7, Now.AddSeconds(-20)), Entry(8, Now.AddSeconds(-1)), Entry(9, Now.AddSeconds(-40)) };

        Assert.Equal(7, ConversationLogBackfill.Checkpoint(0, page, Now.AddSeconds(-10)));
        Assert.Equal(9, ConversationLogBackfill.Checkpoint(0, page, Now));
        Assert.Equal(12, ConversationLogBackfill.Checkpoint(12, page, Now));
        Assert.Equal(5, ConversationLogBackfill.Checkpoint(5, [], Now));
    }

    [Fact]
    public async Task Pass_ReadsFromTheCheckpointToTheHead_ReplaysEveryEventInOrder_AndStoresTheSettledPosition()
    {
        var log = Enumerable.Range(1, 7).Select(i => Entry(i * 2, Now.AddMinutes(-10 + i), seq: i)).ToList();
        log.Add(Entry(20, Now.AddSeconds(-2), seq: 8)); // committed within the settle window
        var replay = new RecordingReplay { Checkpoint = 4 };
        var requests = new List<string>();
        var backfill = Create(replay, request =>
        {
            requests.Add(request.RequestUri!.Query);
            var query = System.Web.HttpUtility.ParseQueryString(request.RequestUri.Query);
            var after = long.Parse(query["after"]!);
            var limit = int.Parse(query["limit"]!);
            var items = log.Where(e => e.Position > after).Take(limit).ToList();
            var head = log[^1].Position;
            return new ConversationLogPage { Items = items, Head = head, Next = items.Count == limit && items[^1].Position < head ? items[^1].Position : null };
        });

        var (from, to, count) = await backfill.PassAsync(CancellationToken.None);

        Assert.Equal((4L, 20L, 6), (from, to, count));
        Assert.Equal([6L, 8, 10, 12, 14, 20], replay.Replayed.Select(e => log.Single(l => l.Event.EventId == e.EventId).Position));
        Assert.Equal(["?after=4&limit=3", "?after=10&limit=3"], requests);
        Assert.Equal(14, replay.Checkpoint);
    }

    private static ConversationLogBackfill Create(RecordingReplay replay, Func<HttpRequestMessage, ConversationLogPage> feed)
    {
        var services = new ServiceCollection().AddScoped<IConversationLogReplay>(_ => replay).BuildServiceProvider();
        var http = new HttpClient(new StubHandler(feed)) { BaseAddress = new Uri("http://messaging.test/") };
        var options = Options.Create(new ConversationLogOptions { MessagingAddress = "http://messaging.test/", PageSize = 3, Settle = TimeSpan.FromSeconds(10) });
        return new ConversationLogBackfill(services.GetRequiredService<IServiceScopeFactory>(), new ConversationLogClient(http), options,
            new FakeTimeProvider(Now), new TestMeterFactory(), NullLogger<ConversationLogBackfill>.Instance);
    }

    private sealed class RecordingReplay : IConversationLogReplay
    {
        public long Checkpoint { get; set; }

        public List<ConversationEvent> Replayed { get; } = [];

        public Task<long> LoadCheckpointAsync(CancellationToken cancellationToken) => Task.FromResult(Checkpoint);

        public Task SaveCheckpointAsync(long position, CancellationToken cancellationToken)
        {
            Checkpoint = Math.Max(Checkpoint, position);
            return Task.CompletedTask;
        }

        public Task ReplayAsync(ConversationEvent e, CancellationToken cancellationToken)
        {
            Replayed.Add(e);
            return Task.CompletedTask;
        }
    }

    private sealed class StubHandler(Func<HttpRequestMessage, ConversationLogPage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = JsonContent.Create(answer(request)) });
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }
}
