using System.Net;
using System.Net.Http.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Identity;
using Platform.Notifications.Consumers;
using Platform.Notifications.Domain;
using Platform.Testing;

namespace Platform.Notifications.Tests;

/// <summary>A deleted account's notifications, pushes, preferences and name are erased, also from others' feeds; twice is once.</summary>
public sealed class AccountErasureTests(NotificationsHost host) : IClassFixture<NotificationsHost>
{
    [Fact]
    public async Task UserDeleted_ErasesTheUsersData_AndTheirNameAndTextFromOthersNotifications_AndRedeliveryChangesNothing()
    {
        var erin = await host.UserAsync("Erin Leaves");
        var frank = await host.UserAsync("Frank Stays");
        using (var http = host.Client(erin))
        {
            Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/push-subscriptions", new { platform = "fcm", token = "fcm-erin-device" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.PutAsJsonAsync("/api/v1/notifications/preferences", new { @default = "all" })).StatusCode);
        }
        var conversationId = await host.ConversationAsync("group", "Team", erin, frank);
        await host.PostAsync(conversationId, 2, erin, "erin's private words");
        await host.PostAsync(conversationId, 3, frank, "frank answers");
        await host.FeedWithAsync(frank, 1);
        await host.FeedWithAsync(erin, 1);

        var deleted = new UserDeleted { UserId = erin, DeletedAt = DateTimeOffset.UtcNow };
        await host.Bus.PublishAsync(deleted);
        await host.Bus.PublishAsync(deleted);

        // As when a message is deleted, the notification leaves the feed; what is stored of it no longer names or quotes Erin.
        await Eventually.Returns(() => host.FeedAsync(frank), f => f.GetProperty("items").GetArrayLength() == 0, TimeSpan.FromSeconds(15),
            "Frank's notification about Erin's message leaves his feed");
        var stored = await Eventually.Returns(() => FranksAsync(frank), n => n.All(x => x.ActorId is null), TimeSpan.FromSeconds(15), "Erin is anonymised");
        var item = Assert.Single(stored);
        Assert.Equal("Deleted user in Team", item.Title);
        Assert.Null(item.Body);
        Assert.True(item.Deleted);
        await AssertErasedAsync(erin);

        // Redelivered (or run again by hand): nothing left to change, nothing fails.
        using (var scope = host.Factory.Services.CreateScope())
            await scope.ServiceProvider.GetRequiredService<UserErasureConsumer>().EraseAsync(erin, CancellationToken.None);
        await AssertErasedAsync(erin);
        Assert.Equal("Deleted user in Team", Assert.Single(await FranksAsync(frank)).Title);
    }

    private async Task<IReadOnlyList<Notification>> FranksAsync(Guid frank)
    {
        await using var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await session.Query<Notification>().Where(n => n.UserId == frank).ToListAsync();
    }

    private async Task AssertErasedAsync(Guid userId)
    {
        await using var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Equal(0, await session.Query<Notification>().CountAsync(n => n.UserId == userId));
        Assert.Equal(0, await session.Query<Notification>().CountAsync(n => n.ActorId == userId));
        Assert.Equal(0, await session.Query<PushSubscriptionDoc>().CountAsync(s => s.UserId == userId));
        Assert.Null(await session.LoadAsync<Preferences>(userId));
        Assert.Equal("Deleted user", (await session.LoadAsync<UserName>(userId))?.DisplayName);
    }
}
