using System.Net.Http.Json;
using System.Text;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Identity;
using Platform.Media.Consumers;
using Platform.Media.Domain;
using Platform.Testing;

namespace Platform.Media.Tests;

/// <summary>A deleted account's files (bytes, thumbnails, records) and unfinished uploads go; bytes another user also uploaded stay.</summary>
public sealed class AccountErasureTests(MediaHost host) : IClassFixture<MediaHost>
{
    [Fact]
    public async Task UserDeleted_DeletesTheUsersFilesAndUploads_KeepsBytesOthersShare_AndRedeliveryChangesNothing()
    {
        var erin = host.Client();
        var frank = host.Client();
        var secret = Encoding.UTF8.GetBytes($"erin's notes {Guid.NewGuid():N}\n");
        var common = Encoding.UTF8.GetBytes($"a file both have {Guid.NewGuid():N}\n");
        await erin.UploadOkAsync(secret, "erin-notes.txt");
        await erin.UploadOkAsync(common, "common.txt");
        var franks = (await frank.UploadOkAsync(common, "common.txt")).GetProperty("id").GetGuid();
        var upload = await MediaClient.Json(await erin.Http.PostAsJsonAsync("/api/v1/media/uploads", new { length = 1000, fileName = "erin-big.bin" }), 201);
        Assert.Contains(host.StagedFiles(), f => f.EndsWith(upload.GetProperty("id").GetGuid().ToString("N"), StringComparison.Ordinal));
        Assert.True(await StoredAsync(secret));

        var deleted = new UserDeleted { UserId = erin.UserId, DeletedAt = DateTimeOffset.UtcNow };
        await host.Bus.PublishAsync(deleted);
        await host.Bus.PublishAsync(deleted);

        await Eventually.Returns(() => CountAsync(erin.UserId), count => count == 0, TimeSpan.FromSeconds(15), "Erin's files and uploads are gone");
        Assert.False(await StoredAsync(secret));
        Assert.True(await StoredAsync(common));
        Assert.DoesNotContain(host.StagedFiles(), f => f.EndsWith(upload.GetProperty("id").GetGuid().ToString("N"), StringComparison.Ordinal));
        await using (var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession())
            Assert.NotNull(await session.LoadAsync<MediaItem>(franks));

        using (var scope = host.Factory.Services.CreateScope())
            await scope.ServiceProvider.GetRequiredService<UserErasureConsumer>().EraseAsync(erin.UserId, CancellationToken.None);
        Assert.Equal(0, await CountAsync(erin.UserId));
        Assert.True(await StoredAsync(common));
    }

    private async Task<int> CountAsync(Guid userId)
    {
        await using var session = host.Factory.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await session.Query<MediaItem>().CountAsync(m => m.OwnerId == userId) + await session.Query<UploadSession>().CountAsync(u => u.OwnerId == userId);
    }

    private async Task<bool> StoredAsync(byte[] bytes)
    {
        foreach (var path in host.StoredBlobs())
            if ((await File.ReadAllBytesAsync(path)).AsSpan().SequenceEqual(bytes))
                return true;
        return false;
    }
}
