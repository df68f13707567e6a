using Marten;
using Microsoft.Extensions.DependencyInjection;
using Platform.Media.Domain;
using Platform.Testing;

namespace Platform.Media.Tests;

/// <summary>Media whose own relay leaves entries alone (a day's sweep age): a test's instance is the one that publishes them.</summary>
public sealed class QuietRelayMediaHost : MediaHost
{
    protected override void Configure(ServiceFactory<Program> factory)
    {
        base.Configure(factory);
        factory.WithSetting("Outbox:SweepAge", "1.00:00:00");
    }
}

public sealed class OutboxTests(QuietRelayMediaHost host) : IClassFixture<QuietRelayMediaHost>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A file stored while the broker is unreachable: the upload succeeds, its <c>MediaReady</c> waits in the outbox (it
    /// was committed with the file), and the outbox's relay publishes it once the broker is back, after which the entry
    /// is gone. (Before the outbox, the announcement was published after the commit and lost, logged, when that failed:
    /// the message carrying the file never got its details.)
    /// </summary>
    [Fact]
    public async Task AFileStoredWhileTheBrokerIsAway_IsAnnouncedWhenItIsBack()
    {
        var direct = new Uri(host.Infrastructure.VirtualHost.ConnectionString);
        await using var broker = new TcpProxy(direct);
        await using var media = host.NewFactory()
            .WithSetting("ConnectionStrings:RabbitMq", new UriBuilder(direct) { Port = broker.Address.Port }.Uri.ToString())
            .WithSetting("Outbox:SweepInterval", "00:00:00.500")
            .WithSetting("Outbox:SweepAge", "00:00:00");
        using var probe = await host.StartAsync(media);
        var user = Guid.CreateVersion7();
        var client = new MediaClient(user, host.UserClient(user, instance: media), media.CreateClient());

        broker.Refuse();
        await Eventually.Returns(() => probe.GetStringAsync("/health/ready"), health => !health.Contains("\"rabbitmq\":{\"status\":\"Healthy\"", StringComparison.Ordinal),
            Patience, "Media sees the broker gone");
        var id = (await client.UploadOkAsync(TestFiles.Jpeg(64, 48), "while-away.jpg")).GetProperty("id").GetGuid();
        Assert.Equal(1, await PendingAsync(media, id));

        broker.Restore();
        var ready = await Eventually.Returns(() => host.Bus.NextAsync(Patience), m => m.MediaId == id, Patience, "MediaReady for the file stored while the broker was away");
        Assert.Equal(user, ready.OwnerId);
        Assert.Equal(64, ready.Width);
        Assert.Equal(48, ready.Height);
        await Eventually.Returns(() => PendingAsync(media, id), pending => pending == 0, Patience, "the announcement leaves the outbox once the broker confirms it");
    }

    private static Task<int> PendingAsync(ServiceFactory<Program> media, Guid mediaId) => media.InScopeAsync(async services =>
    {
        await using var session = services.GetRequiredService<IDocumentStore>().QuerySession();
        return await session.Query<OutboxEntry>().CountAsync(entry => entry.Message.MediaId == mediaId);
    });
}

/// <summary>The relay on a fresh database (its own fixture: no upload has created the outbox's table).</summary>
public sealed class FreshOutboxTests(QuietRelayMediaHost host) : IClassFixture<QuietRelayMediaHost>
{
    /// <summary>
    /// On a database where no upload has created the outbox's table yet, the relay's pass succeeds (it creates the table
    /// for its statement; before, every pass failed, a warning every 2 s, until the first upload).
    /// </summary>
    [Fact]
    public async Task TheRelaysPass_SucceedsBeforeAnyFileWasStored()
    {
        var published = await host.Factory.InScopeAsync(async services =>
        {
            await services.GetRequiredService<Platform.ServiceDefaults.OutboxRelay>().SweepAsync(CancellationToken.None);
            return true;
        });
        Assert.True(published);
    }
}
